"""The one settings table: every key we read (key, type, default, help), for every object in config.json.

`SETTINGS_TABLE` drives validation (`tracker.config.loader`), the configuration reference
(`render_markdown`, checked in as docs/configuration.md) and the CLI's `--help` (`flag` entries).
Scopes: `top` (config.json's top level), `cli` (environment or flag only), `service` (one
`Notify[]`/`Consume[]` entry), `filter`, `query`, `prune` and `field` (objects nested in a service).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tracker.config.model import Service
from tracker.config.values import INT64_MAX, INT64_MIN, NO_SECRET, UINT64_MAX

# Types whose values can come from an environment variable or a flag (scalars and lists of
# strings); the nested object lists come from config.json only.
ENV_TYPES = frozenset(
    {"bool", "int", "int64", "uint64", "float", "string", "secret", "port", "regex"}
    | {"duration", "path", "url", "strings", "networks"}
)

TYPE_NAMES = {
    "bool": "bool",
    "int": "int",
    "int64": "int64",
    "uint64": "uint64",
    "float": "number",
    "string": "string",
    "secret": "string (secret)",
    "port": 'string `":port"`',
    "regex": "regex string",
    "duration": 'duration (`"2s"`, `"500ms"`, `"1m"` or seconds)',
    "path": "path",
    "url": "URL",
    "strings": "[string]",
    "networks": "[string] (IP or CIDR)",
    "int64s": "[int64]",
    "services": "[Service]",
    "filters": "[Filter]",
    "queries": "[Query]",
    "prunes": "[Prune]",
    "fields": "[Field]",
    "alias": "alias",
    "ignored": "ignored",
    "unused": "unused",
}

SCOPES = ("top", "cli", "service", "filter", "query", "prune", "field")


class _Same:
    def __repr__(self) -> str:
        return "SAME"


SAME: object = _Same()  # `no_file_default` marker: the same as `default`


@dataclass(frozen=True)
class SettingSpec:
    """One setting: its config.json key, type, default and help, and how it maps onto attributes."""

    key: str  # as config.json spells it (PascalCase, as the Go tracker's struct fields)
    type: str  # a TYPE_NAMES key: picks the parser and the docs' Type column
    default: object  # the value when the key is absent
    help: str  # one or two sentences of markdown; the docs table and `--help` show it
    attr: str = ""  # the snake_case attribute; "" for alias, ignored and unused keys
    scope: str = "top"
    origin: str = "go"  # go: Go reads it; readme: Go's README used it, Go ignored it; ours
    minimum: int | None = None
    maximum: int | None = None
    no_file_default: object = SAME  # the value when there is no config file at all
    empty_means_default: bool = False  # 0 or "" mean `default`, as the Go tracker's own fallbacks
    alias_of: str | None = None  # for type "alias": the key this one stands for
    env: str | None = None  # environment variable that sets it
    flag: str | None = None  # command-line flag that sets it (see `tracker --help`)


def _top(
    key: str,
    attr: str,
    type_: str,
    default: object,
    help_: str,
    *,
    origin: str = "go",
    minimum: int | None = None,
    maximum: int | None = None,
    no_file_default: object = SAME,
    empty_means_default: bool = False,
    flag: str | None = None,
) -> SettingSpec:
    """A top-level key; scalar ones can also be set by `TRACKER_<ATTR>` in the environment."""
    return SettingSpec(
        key,
        type_,
        default,
        help_,
        attr,
        origin=origin,
        minimum=minimum,
        maximum=maximum,
        no_file_default=no_file_default,
        empty_means_default=empty_means_default,
        env="TRACKER_" + attr.upper() if type_ in ENV_TYPES else None,
        flag=flag,
    )


def _in(
    scope: str,
    key: str,
    attr: str,
    type_: str,
    default: object,
    help_: str,
    minimum: int | None = None,
) -> SettingSpec:
    return SettingSpec(key, type_, default, help_, attr, scope=scope, minimum=minimum)


def _alias(key: str, target: str, help_: str) -> SettingSpec:
    return SettingSpec(key, "alias", None, help_, origin="readme", alias_of=target)


def _ignored(key: str, help_: str, scope: str = "top", origin: str = "readme") -> SettingSpec:
    return SettingSpec(key, "ignored", None, help_, scope=scope, origin=origin)


def _unused(key: str, help_: str, scope: str = "service") -> SettingSpec:
    return SettingSpec(key, "unused", None, help_, scope=scope)


_TLS_TIMEOUT = "TLS listener {} timeout in seconds; 0 means none."
# With no config file at all, events go to one ClickHouse service (embedded chDB by default).
_DEFAULT_NOTIFY = (Service("clickhouse", context="sfpla"),)

# fmt: off
_GO_KEYS: tuple[SettingSpec, ...] = (
    _top("ApiVersion", "api_version", "int", 0, "Route version: the tracking routes are served under `/tr/v{N}/`. Absent from a config file it is 0, as in the Go tracker.", minimum=0, no_file_default=1),
    _top("Domains", "domains", "strings", (), "Trusted domains: the Let's Encrypt (ACME) host whitelist, and redirect targets the redirect API refuses as self-referential.", no_file_default=("localhost",)),
    _top("StaticDirectory", "static_directory", "string", "", "Root directory of `/tr/v{N}/pub/` static files; empty means the current directory."),
    _top("TempDirectory", "temp_directory", "string", "", "Scratch directory; GeoIP archives are unpacked here."),
    _top("UseGeoIP", "use_geoip", "bool", False, "Look up the country, region, city and position of client IPs."),
    _top("GeoIPVersion", "geoip_version", "int", 0, "Version marker of the loaded GeoIP data; change it to force a reload.", minimum=0),
    _top("IPv4GeoIPZip", "ipv4_geoip_zip", "string", "", "IP2Location LITE DB11 IPv4 CSV zip archive."),
    _top("IPv6GeoIPZip", "ipv6_geoip_zip", "string", "", "IP2Location LITE DB11 IPv6 CSV zip archive."),
    _top("IPv4GeoIPCSVDest", "ipv4_geoip_csv_dest", "string", "", "Name of the CSV file inside the IPv4 archive."),
    _top("IPv6GeoIPCSVDest", "ipv6_geoip_csv_dest", "string", "", "Name of the CSV file inside the IPv6 archive."),
    _top("UseRegionDescriptions", "use_region_descriptions", "bool", False, "Keep the GeoIP region and city names (otherwise only the country)."),
    _top("UseRemoveIP", "use_remove_ip", "bool", False, "Never store the raw client IP: `events.ip` and every other IP column stay empty."),
    _top("UseLocalTLS", "use_local_tls", "bool", False, "Serve TLS with the certificate files `TLSCert` and `TLSKey` instead of Let's Encrypt."),
    _top("TLSCert", "tls_cert", "string", "", "PEM certificate file; required when `UseLocalTLS` is true."),
    _top("TLSKey", "tls_key", "string", "", "PEM private key file; required when `UseLocalTLS` is true."),
    _top("IgnoreInsecureTLS", "ignore_insecure_tls", "bool", False, "Accepted for compatibility; it had no effect in the Go tracker and has none here."),
    _top("ProxyPort", "proxy_port", "port", "", 'Plain-HTTP listener that redirects to HTTPS under `UseLocalTLS`, e.g. `":8080"`.'),
    _top("ProxyPortTLS", "proxy_port_tls", "port", "", 'TLS listener, e.g. `":8443"`.'),
    _top("ProxyPortRedirect", "proxy_port_redirect", "port", "", "Port placed in HTTPS redirect URLs; empty means the TLS port (so `:443` can be advertised while listening on `:8443`)."),
    _top("ProxyExceptHTTP", "proxy_except_http", "port", "", 'Extra plain-HTTP listener serving every route, e.g. `":8880"`; empty means off.'),
    _top("ProxyUrl", "proxy_url", "string", "", "Upstream of the `/api/` reverse proxy; empty means `/api/` is not served."),
    _top("ProxyUrlFilter", "proxy_url_filter", "regex", "", "Regular expression of proxied paths that are not tracked."),
    _top("IgnoreProxyOptions", "ignore_proxy_options", "bool", False, "Pass OPTIONS requests on `/api/` upstream instead of answering the CORS preflight."),
    _top("ProxyForceJson", "proxy_force_json", "bool", False, "Send proxied requests with `Content-Type: application/json`."),
    _top("ProxyDailyLimit", "proxy_daily_limit", "uint64", 0, "Requests per client IP per UTC day on `/api/`, answered 429 beyond it; 0 means no limit.", minimum=0, maximum=UINT64_MAX),
    _top("ProxyDailyLimitChecker", "proxy_daily_limit_checker", "string", "", "Backend that counts requests for `ProxyDailyLimit`: `clickhouse` or `cassandra`."),
    _top("AllowOrigin", "allow_origin", "string", "*", "CORS `Access-Control-Allow-Origin`; empty means `*`.", empty_means_default=True),
    _top("MaximumConnections", "maximum_connections", "int", 0, "Requests handled at once; more get 503 with `Retry-After: 1`. **0 means unlimited** (in the Go tracker 0 answered every request 503).", minimum=0),
    _top("ReadTimeoutSeconds", "read_timeout_seconds", "int", 0, _TLS_TIMEOUT.format("read"), minimum=0),
    _top("ReadHeaderTimeoutSeconds", "read_header_timeout_seconds", "int", 0, _TLS_TIMEOUT.format("header read"), minimum=0),
    _top("WriteTimeoutSeconds", "write_timeout_seconds", "int", 0, _TLS_TIMEOUT.format("write"), minimum=0),
    _top("IdleTimeoutSeconds", "idle_timeout_seconds", "int", 0, _TLS_TIMEOUT.format("keep-alive idle"), minimum=0),
    _top("MaxHeaderBytes", "max_header_bytes", "int", 1_048_576, "Largest request header block in bytes; 0 means 1 MiB.", minimum=0, empty_means_default=True),
    _top("DefaultRedirect", "default_redirect", "string", "", "Target of `rdr`/`xrdr` when the request names none."),
    _top("UrlFilter", "url_filter", "regex", "", "Regular expression applied to event URLs; the capture group `UrlFilterMatchGroup` is kept. Empty means off."),
    _top("UrlFilterMatchGroup", "url_filter_match_group", "int", 0, "Capture group of `UrlFilter` to keep (1-based); 0 means the last group.", minimum=0),
    _top("IgnoreQueryParamsKey", "ignore_query_params_key", "string", "", "Query parameter whose presence stops the query string being recorded (e.g. `igqp`)."),
    _top("PrefixPrivateHash", "prefix_private_hash", "string", "", "Salt of the email, cell and username hashes (`ehash`, `chash`, `uhash`)."),
    _top("AccountHashMixer", "account_hash_mixer", "string", "", "When set, events must carry an `acct` hash of the host mixed with this value."),
    _top("CFlagsMarketing", "cflags_marketing", "int64", 0, "Consent flag bits an event needs before it is sent to Facebook.", minimum=INT64_MIN, maximum=INT64_MAX),
    _top("CFlagsIgnore", "cflags_ignore", "bool", False, "Send events to Facebook even when they carry no consent flags."),
    _top("Debug", "debug", "bool", False, "Verbose logging.", flag="--debug"),
    _top("SchemaVersion", "schema_version", "int", 0, "Cassandra schema version; must equal `sequences.DB_VER`.", minimum=0),
    _top("Notify", "notify", "services", (), "Write backends, in order; see [Service entries](#service-entries-notify-and-consume). Absent from a config file it is empty (nothing is stored), as in the Go tracker.", no_file_default=_DEFAULT_NOTIFY),
    _top("Consume", "consume", "services", (), "Consumers; only `nats` is implemented."),
    _top("PruneLogsTTL", "prune_logs_ttl", "int", 2_592_000, "Age in seconds after which log rows are pruned; 0 means 2592000 (30 days).", minimum=0, empty_means_default=True),
    _top("PruneLogsOnly", "prune_logs_only", "bool", False, "Prune logs only (also set by `--logs-only`).", flag="--logs-only"),
    _top("PruneLogsSkip", "prune_logs_skip", "bool", False, "Do not prune logs."),
    _top("PruneLogsPageSize", "prune_logs_page_size", "int", 10_000, "Rows per page when pruning logs; 0 means 10000.", minimum=0, empty_means_default=True),
    _top("PruneUpdateConfig", "prune_update_config", "bool", False, "After pruning, write the resume point back to the config file as `PruneSkipToTimestamp`."),
    _top("PruneLimit", "prune_limit", "int", 0, "Stop pruning after this many rows; 0 means no limit.", minimum=0),
    _top("PruneSkipToTimestamp", "prune_skip_to_timestamp", "int64", 0, "Prune resume point (unix seconds): older rows are not touched.", minimum=0, maximum=INT64_MAX),
    _top("S3Bucket", "s3_bucket", "string", "", "S3 bucket for DuckDB Parquet exports."),
    _top("S3Prefix", "s3_prefix", "string", "", "Key prefix of DuckDB Parquet exports."),
    _top("S3Region", "s3_region", "string", "", "Region of `S3Bucket`."),
    _top("S3AccessKeyID", "s3_access_key_id", "string", "", "Access key id for `S3Bucket`."),
    _top("S3SecretAccessKey", "s3_secret_access_key", "secret", NO_SECRET, "Secret access key for `S3Bucket`."),
    _top("HealthCheckInterval", "health_check_interval", "int", 0, "DuckDB only: seconds between health checks (the Go tracker's shipped config has 300).", minimum=0),
    _top("InactivityTimeoutSeconds", "inactivity_timeout_seconds", "int", 0, "DuckDB only: inactivity timeout in seconds.", minimum=0),
    _top("MaxShardSizeBytes", "max_shard_size_bytes", "int64", 104_857_600, "DuckDB only: largest shard size in bytes; 0 means 100 MiB.", minimum=0, maximum=INT64_MAX, empty_means_default=True),
    _ignored("IsUrlFiltered", "internal to the Go tracker (derived from `UrlFilter`).", origin="go"),
    _ignored("ConfigFile", "internal to the Go tracker (the path the file was read from).", origin="go"),
    _ignored("NodeId", "internal to the Go tracker (a fresh id per process).", origin="go"),
    _ignored("API", "internal to the Go tracker (the service that answers the APIs).", origin="go"),
    _ignored("ProxyDailyLimitCheck", "internal to the Go tracker (a function).", origin="go"),
)
# fmt: on

_BATCH_DEFAULT = "Default `{}` of ClickHouse Notify entries that do not set their own."

# fmt: off
_README_KEYS: tuple[SettingSpec, ...] = (
    _top("BatchingEnabled", "batching_enabled", "bool", True, _BATCH_DEFAULT.format("BatchingEnabled"), origin="readme"),
    _top("MaxBatchSize", "max_batch_size", "int", None, _BATCH_DEFAULT.format("MaxBatchSize") + " Unset means the per-table batch policies.", origin="readme", minimum=1),
    _top("MaxBatchTime", "max_batch_time", "duration", None, _BATCH_DEFAULT.format("MaxBatchTime") + " Unset means the per-table batch policies.", origin="readme"),
    _top("BatchFlushInterval", "batch_flush_interval", "duration", None, _BATCH_DEFAULT.format("BatchFlushInterval") + " Unset means the batcher's own tick.", origin="readme"),
    _top("EnableCompression", "enable_compression", "bool", True, _BATCH_DEFAULT.format("EnableCompression"), origin="readme"),
    _top("DataRetentionDays", "data_retention_days", "int", None, "Keep events this many days (a ClickHouse TTL); unset means forever.", origin="readme", minimum=1),
    _top("GeoIPDatabase", "geoip_database", "string", None, "GeoIP database file (IP2Location BIN or CSV zip, or a MaxMind `.mmdb`); unset means the built-in country database.", origin="readme"),
    _alias("LetsEncryptDomains", "Domains", "Alias of `Domains` (the ACME host whitelist)."),
    _alias("RateLimitPerDay", "ProxyDailyLimit", "Alias of `ProxyDailyLimit`."),
    _alias("MaxConnections", "MaximumConnections", "Alias of `MaximumConnections`."),
    _alias("AnonymizeIP", "UseRemoveIP", "Alias of `UseRemoveIP`."),
    _ignored("ConnectionTimeout", "its unit and target were never defined; set a service's `Timeout` (milliseconds)."),
    _ignored("PruneOldData", "pruning runs with `tracker prune`; `DataRetentionDays` sets an age limit."),
)
# fmt: on

# fmt: off
_OUR_KEYS: tuple[SettingSpec, ...] = (
    _top("Host", "host", "string", "0.0.0.0", "Address the HTTP listener binds.", origin="ours", flag="--host"),
    _top("Port", "port", "int", 8080, "Port of the HTTP listener (every route, no TLS); 0 picks a free port.", origin="ours", minimum=0, maximum=65535, flag="--port"),
    _top("DataDir", "data_dir", "path", Path("data"), "Directory of the spool, the IP-hash secret and the embedded ClickHouse (`<DataDir>/clickhouse`).", origin="ours", flag="--data-dir"),
    _top("ClickHouseUrl", "clickhouse_url", "url", None, "ClickHouse server over HTTP, e.g. `http://user:password@host:8123`; unset means embedded chDB under `<DataDir>/clickhouse`.", origin="ours", flag="--clickhouse-url"),
    _top("TrustedProxies", "trusted_proxies", "networks", (), "Proxies (IPs or CIDRs) whose `X-Forwarded-For`, `X-Real-IP` and similar headers are believed; empty means none.", origin="ours"),
    _top("IPHashSecret", "ip_hash_secret", "secret", None, "Key of the IP hash (`iphash`); unset means one is generated and kept in `<DataDir>`.", origin="ours"),
    _top("MaxBodyBytes", "max_body_bytes", "int", 1_048_576, "Largest request body or WebSocket message in bytes; larger ones get 413.", origin="ours", minimum=1),
    _top("ShutdownTimeoutSeconds", "shutdown_timeout_seconds", "float", 10.0, "Time allowed on shutdown to drain queued events to the sinks.", origin="ours", minimum=0),
    SettingSpec("FbPixel", "string", None, "Facebook pixel id: sets `Context` of the last `facebook` Notify entry, or adds one. The environment wins over the flag, as in the Go tracker.", scope="cli", env="FB_PIXEL", flag="--fb-pixel"),
    SettingSpec("FbToken", "secret", None, "Facebook access token: sets `Key` of the same entry as `FbPixel`.", scope="cli", env="FB_TOKEN", flag="--fb-token"),
)
# fmt: on


def _s(
    key: str, attr: str, type_: str, default: object, help_: str, minimum: int | None = None
) -> SettingSpec:
    return _in("service", key, attr, type_, default, help_, minimum)


# fmt: off
_SERVICE_KEYS: tuple[SettingSpec, ...] = (
    _s("Service", "service", "string", "", "`clickhouse`, `cassandra`, `duckdb`, `nats` or `facebook`. Any other value (by convention a trailing `_`, as in `clickhouse_`) disables the entry."),
    _s("Skip", "skip", "bool", False, "Never connected and never written."),
    _s("Critical", "critical", "bool", False, "A connection failure stops the tracker at startup."),
    _s("Hosts", "hosts", "strings", (), "ClickHouse native `host:port` endpoints, Cassandra seeds or NATS URLs. ClickHouse data goes where `ClickHouseUrl` points."),
    _s("Context", "context", "string", "", "ClickHouse database (empty means `sfpla`), Cassandra keyspace, NATS publish subject, or Facebook pixel id."),
    _s("Username", "username", "string", "", "ClickHouse user name."),
    _s("Password", "password", "secret", NO_SECRET, "ClickHouse password."),
    _s("Key", "key", "secret", NO_SECRET, "Facebook access token; NATS or Cassandra client key file."),
    _s("Cert", "cert", "string", "", "Client certificate file."),
    _s("CACert", "ca_cert", "string", "", "CA certificate file."),
    _s("Secure", "secure", "bool", False, "ClickHouse: TLS with verification. Cassandra: host verification. NATS: **skip** verification (inverted, as in the Go tracker)."),
    _s("Unencrypted", "unencrypted", "bool", False, "Cassandra: no TLS."),
    _s("Timeout", "timeout_ms", "int", 0, "Dial or connect timeout in milliseconds; 0 means the driver's default.", 0),
    _s("Connections", "connections", "int", 0, "ClickHouse: open connections (at least 10). Cassandra: connections per host.", 0),
    _s("Retries", "retries", "int", 0, "Cassandra retry count.", 0),
    _s("AttemptAll", "attempt_all", "bool", False, "Facebook: send every eligible event, not only those with `fbx`."),
    _s("Filter", "filter", "filters", (), "NATS consumer subjects; see `Filter[]` below."),
    _s("Prune", "prune", "prunes", (), "Prune rules; see `Prune[]` below."),
    _s("ProxyRealtimeStorageServiceName", "proxy_realtime_storage_service_name", "string", "", "DuckDB: also forward writes to the Notify service of this `Service` name."),
    _s("ProxyRealtimeStorageServiceTables", "proxy_realtime_storage_service_tables", "uint64", 0, "DuckDB: bitmask of the tables forwarded (events 1, events_recent 2, visitors 4, … logs 2^33; see the HTTP spec §5.2)."),
    SettingSpec("BatchingEnabled", "bool", None, "ClickHouse: batch inserts; false writes each row at once. Unset takes the top-level `BatchingEnabled` (default true).", "batching_enabled", scope="service", origin="readme"),
    SettingSpec("MaxBatchSize", "int", None, "ClickHouse: rows per events batch. Unset takes the top-level `MaxBatchSize`, then the per-table policies.", "max_batch_size", scope="service", origin="readme", minimum=1),
    SettingSpec("MaxBatchTime", "duration", None, "ClickHouse: longest time an events batch waits. Unset takes the top-level `MaxBatchTime`, then the per-table policies.", "max_batch_time", scope="service", origin="readme"),
    SettingSpec("BatchFlushInterval", "duration", None, "ClickHouse: how often open batches are checked. Unset takes the top-level `BatchFlushInterval`.", "batch_flush_interval", scope="service", origin="readme"),
    SettingSpec("EnableCompression", "bool", None, "ClickHouse server: compress inserts. Unset takes the top-level `EnableCompression` (default true).", "enable_compression", scope="service", origin="readme"),
    _unused("Format", "Unused (as in the Go tracker)."),
    _unused("MessageLimit", "Unused (as in the Go tracker)."),
    _unused("ByteLimit", "Unused (as in the Go tracker)."),
    _unused("Consumer", "Unused (as in the Go tracker)."),
    _unused("Ephemeral", "Unused (as in the Go tracker)."),
    _unused("Note", "A free-text note; unused."),
    _ignored("Type", "the Go README's name for `Service`.", scope="service"),
    _ignored("Host", "list the endpoint in `Hosts` (or set the top-level `ClickHouseUrl`).", scope="service"),
    _ignored("Port", "list `host:port` in `Hosts` (or set the top-level `ClickHouseUrl`).", scope="service"),
    _ignored("Keyspace", "the Cassandra keyspace is `Context`.", scope="service"),
    _ignored("ConnectionTimeout", "use `Timeout` (milliseconds).", scope="service"),
)
# fmt: on

# fmt: off
_NESTED_KEYS: tuple[SettingSpec, ...] = (
    _in("filter", "Type", "type", "string", "", "Unused (as in the Go tracker)."),
    _in("filter", "Alias", "alias", "string", "", "What the subject carries: `log`, `count` or `update`."),
    _in("filter", "Id", "id", "string", "", "NATS subject to consume, e.g. `tic.log.>`."),
    _in("filter", "Queries", "queries", "queries", (), "Cassandra statements of the Go tracker's configs; unused."),
    _in("query", "Statement", "statement", "string", "", "A CQL statement; unused."),
    _in("query", "QueryType", "query_type", "string", "", "Unused."),
    _in("query", "Fields", "fields", "fields", (), "Unused."),
    _in("prune", "Table", "table", "string", "", "Table to prune: `visitors`, `sessions`, `events` or `events_recent`."),
    SettingSpec("TTL", "int64", 0, "Age in seconds after which rows are pruned.", "ttl", scope="prune", minimum=0, maximum=INT64_MAX),
    SettingSpec("PageSize", "int", 0, "Rows per page; 0 or 1 means 5000.", "page_size", scope="prune", minimum=0),
    _in("prune", "CFlagsIgnore", "cflags_ignore", "int64s", (), "Rows whose `cflags` share a bit with these values are kept."),
    _in("prune", "ClearAll", "clear_all", "bool", False, "Delete expired rows instead of clearing fields."),
    _in("prune", "ClearParams", "clear_params", "bool", False, "Replace `params` by the field hashes instead of merging them in."),
    _in("prune", "ClearNumericParams", "clear_numeric_params", "bool", False, "Clear `nparams`."),
    _in("prune", "Fields", "fields", "fields", (), "Columns to clear; see `Fields[]` below."),
    _in("field", "Id", "id", "string", "", "Column name."),
    _in("field", "Type", "type", "string", "", "Column type (e.g. `ip4`); unused."),
    _in("field", "Default", "default", "string", "", "Default value."),
    _in("field", "DestParamHash", "dest_param_hash", "string", "", "When set, a hash of the old value is kept in `params` under this name."),
)
# fmt: on

SETTINGS_TABLE: tuple[SettingSpec, ...] = (
    _GO_KEYS + _README_KEYS + _OUR_KEYS + _SERVICE_KEYS + _NESTED_KEYS
)


def specs(scope: str) -> tuple[SettingSpec, ...]:
    return tuple(spec for spec in SETTINGS_TABLE if spec.scope == scope)

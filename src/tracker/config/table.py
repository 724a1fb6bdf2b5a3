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
from tracker.config.types import (
    ALIAS,
    BOOL,
    DURATION,
    FIELDS,
    FILTERS,
    FLOAT,
    IGNORED,
    INT,
    INT64,
    INT64S,
    MILLIS,
    NETWORKS,
    PATH,
    POLICIES,
    PORT,
    PRUNES,
    QUERIES,
    REGEX,
    SECRET,
    SERVICES,
    STRING,
    STRINGS,
    UINT64,
    UNUSED,
    URL,
    SettingType,
    ValueType,
)
from tracker.config.values import INT64_MAX, INT64_MIN, NO_SECRET, UINT64_MAX

SCOPES = ("top", "cli", "service", "filter", "query", "prune", "field")


class _Same:
    def __repr__(self) -> str:
        return "SAME"


SAME: object = _Same()  # `no_file_default` marker: the same as `default`


@dataclass(frozen=True)
class SettingSpec:
    """One setting: its config.json key, type, default and help, and how it maps onto attributes."""

    key: str  # as config.json spells it (PascalCase, as the Go tracker's struct fields)
    type: SettingType  # how the value is read and the docs' Type column (tracker.config.types)
    default: object  # the value when the key is absent
    help: str  # one or two sentences of markdown; the docs table and `--help` show it
    attr: str = ""  # the snake_case attribute; "" for alias, ignored and unused keys
    scope: str = "top"
    origin: str = "go"  # go: Go reads it; readme: Go's README used it, Go ignored it; ours
    minimum: int | None = None
    maximum: int | None = None
    no_file_default: object = SAME  # the value when there is no config file at all
    empty_means_default: bool = False  # 0 or "" mean `default`, as the Go tracker's own fallbacks
    alias_of: str | None = None  # for type ALIAS: the key this one stands for
    env: str | None = None  # environment variable that sets it
    flag: str | None = None  # command-line flag that sets it (see `tracker --help`)

    @property
    def secret(self) -> bool:
        """Whether messages about this setting must hide its value."""
        return isinstance(self.type, ValueType) and self.type.secret


def _top(
    key: str,
    attr: str,
    type_: SettingType,
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
        env="TRACKER_" + attr.upper() if isinstance(type_, ValueType) and type_.from_env else None,
        flag=flag,
    )


def _in(
    scope: str,
    key: str,
    attr: str,
    type_: SettingType,
    default: object,
    help_: str,
    minimum: int | None = None,
) -> SettingSpec:
    return SettingSpec(key, type_, default, help_, attr, scope=scope, minimum=minimum)


def _alias(key: str, target: str, help_: str) -> SettingSpec:
    return SettingSpec(key, ALIAS, None, help_, origin="readme", alias_of=target)


def _ignored(key: str, help_: str, scope: str = "top", origin: str = "readme") -> SettingSpec:
    return SettingSpec(key, IGNORED, None, help_, scope=scope, origin=origin)


def _unused(key: str, help_: str, scope: str = "service") -> SettingSpec:
    return SettingSpec(key, UNUSED, None, help_, scope=scope)


# With no config file at all, events go to one ClickHouse service (embedded chDB by default).
_DEFAULT_NOTIFY = (Service("clickhouse", context="sfpla"),)

# fmt: off
_GO_KEYS: tuple[SettingSpec, ...] = (
    _top("ApiVersion", "api_version", INT, 1, "Route version: the tracking routes are served under `/tr/v{N}/`. Absent it is 1 (the Go tracker's zero value 0 turned a config without the key into `/tr/v0/` routes).", minimum=0),
    _top("Domains", "domains", STRINGS, (), "Trusted domains: the Let's Encrypt (ACME) host whitelist, hosts `rdr`/`xrdr` may redirect to, and short-link targets the redirect API refuses as self-referential.", no_file_default=("localhost",)),
    _top("StaticDirectory", "static_directory", STRING, "", "Root directory of `/tr/v{N}/pub/` static files, relative to the working directory; empty means `public` (the Go tracker served the working directory itself)."),
    _top("TempDirectory", "temp_directory", STRING, "", "Scratch directory of the Go tracker's GeoIP unpacking; accepted and not needed (the archives are read in place)."),
    _top("UseGeoIP", "use_geoip", BOOL, False, "Look up the country, region, city and position of client IPs (also on when `GeoIPDatabase` is set). Absent from a config file it is false, as in the Go tracker; with no config file at all it is true.", no_file_default=True),
    _top("GeoIPVersion", "geoip_version", INT, 0, "Version marker of the converted GeoIP CSV data in `<DataDir>/geoip`; change it to force a reconversion (a changed file size or mtime does too).", minimum=0),
    _top("IPv4GeoIPZip", "ipv4_geoip_zip", STRING, "", "IP2Location LITE DB11 IPv4 CSV zip archive."),
    _top("IPv6GeoIPZip", "ipv6_geoip_zip", STRING, "", "IP2Location LITE DB11 IPv6 CSV zip archive."),
    _top("IPv4GeoIPCSVDest", "ipv4_geoip_csv_dest", STRING, "", "Name of the CSV file inside the IPv4 archive; empty means every `.csv` in it."),
    _top("IPv6GeoIPCSVDest", "ipv6_geoip_csv_dest", STRING, "", "Name of the CSV file inside the IPv6 archive; empty means every `.csv` in it."),
    _top("UseRegionDescriptions", "use_region_descriptions", BOOL, False, "Keep the GeoIP region and city names (otherwise only the country)."),
    _top("UseRemoveIP", "use_remove_ip", BOOL, False, "Never store the raw client IP: `events.ip` and every other IP column stay empty."),
    _top("UseLocalTLS", "use_local_tls", BOOL, False, "Serve TLS with the certificate files `TLSCert` and `TLSKey`, reloaded when they change on disk. False (the Go tracker then used Let's Encrypt) serves TLS only with `UseAcme`."),
    _top("TLSCert", "tls_cert", STRING, "", "PEM certificate file; required when `UseLocalTLS` is true."),
    _top("TLSKey", "tls_key", STRING, "", "PEM private key file; required when `UseLocalTLS` is true."),
    _top("IgnoreInsecureTLS", "ignore_insecure_tls", BOOL, False, "Accepted for compatibility; it had no effect in the Go tracker and has none here."),
    _top("ProxyPort", "proxy_port", PORT, "", 'Plain-HTTP listener that redirects to HTTPS and answers ACME http-01 challenges, when TLS is on (`UseLocalTLS` or `UseAcme`), e.g. `":8080"`; empty means `:80`.'),
    _top("ProxyPortTLS", "proxy_port_tls", PORT, "", 'TLS listener serving every route, when TLS is on, e.g. `":8443"`; empty means `:443` (honoured also without `ProxyPort`, unlike the Go tracker).'),
    _top("ProxyPortRedirect", "proxy_port_redirect", PORT, "", "Port placed in HTTPS redirect URLs; empty means the TLS port (so `:443` can be advertised while listening on `:8443`)."),
    _top("ProxyExceptHTTP", "proxy_except_http", PORT, "", 'Extra plain-HTTP listener serving every route, e.g. `":8880"`; empty means off.'),
    _top("ProxyUrl", "proxy_url", STRING, "", "Upstream of the `/api/` reverse proxy; empty means `/api/` is not served."),
    _top("ProxyUrlFilter", "proxy_url_filter", REGEX, "", "Regular expression of proxied paths that are not tracked; empty means every proxied request is tracked (the Go tracker then tracked none)."),
    _top("IgnoreProxyOptions", "ignore_proxy_options", BOOL, False, "Pass OPTIONS requests on `/api/` upstream instead of answering the CORS preflight."),
    _top("ProxyForceJson", "proxy_force_json", BOOL, False, "Send proxied requests with `Content-Type: application/json`."),
    _top("ProxyDailyLimit", "proxy_daily_limit", UINT64, 0, "Requests per client IP per UTC day on `/api/`, counted in memory on each node and answered 429 beyond it; 0 means no limit.", minimum=0, maximum=UINT64_MAX),
    _top("ProxyDailyLimitChecker", "proxy_daily_limit_checker", STRING, "", "Accepted for compatibility and ignored: `ProxyDailyLimit` counts the proxied requests themselves, in memory."),
    _top("AllowOrigin", "allow_origin", STRING, "*", "CORS `Access-Control-Allow-Origin`; empty means `*`.", empty_means_default=True),
    _top("MaximumConnections", "maximum_connections", INT, 0, "Requests handled at once; more get 503 with `Retry-After: 1`. **0 means unlimited** (in the Go tracker 0 answered every request 503). Open sockets are capped by `MaxOpenConnections`.", minimum=0),
    _top("ReadTimeoutSeconds", "read_timeout_seconds", INT, 60, "Time allowed to receive a whole request (head and body), in seconds; 0 means none (the Go tracker's default). Late heads get 408; a late body closes the connection.", minimum=0),
    _top("ReadHeaderTimeoutSeconds", "read_header_timeout_seconds", INT, 10, "Time allowed to receive a request's line and headers (also a new connection's first request), in seconds, answered 408 when late; 0 means `ReadTimeoutSeconds`.", minimum=0),
    _top("WriteTimeoutSeconds", "write_timeout_seconds", INT, 60, "Time a response may wait for a client that does not read it (no write progress), in seconds; then the connection is closed. 0 means none.", minimum=0),
    _top("IdleTimeoutSeconds", "idle_timeout_seconds", INT, 30, "Keep-alive idle timeout in seconds; 0 means `ReadTimeoutSeconds`, or 5 s when that is 0 too (the Go tracker then had none).", minimum=0),
    _top("MaxHeaderBytes", "max_header_bytes", INT, 1_048_576, "Largest request line plus headers in bytes, answered 431; 0 means 1 MiB.", minimum=0, empty_means_default=True),
    _top("DefaultRedirect", "default_redirect", STRING, "", "Target of `rdr`/`xrdr` when the request names none. Empty, or pointing at `rdr`/`xrdr` itself, means such requests get 404 (never a redirect loop)."),
    _top("UrlFilter", "url_filter", REGEX, "", "Regular expression applied to event URLs; the capture group `UrlFilterMatchGroup` is kept. Empty means off."),
    _top("UrlFilterMatchGroup", "url_filter_match_group", INT, 0, "Capture group of `UrlFilter` to keep (1-based); 0 means the last group.", minimum=0),
    _top("IgnoreQueryParamsKey", "ignore_query_params_key", STRING, "", "Query parameter whose presence stops the query string being recorded (e.g. `igqp`)."),
    _top("PrefixPrivateHash", "prefix_private_hash", STRING, "", "Salt of the email, cell and username hashes (`ehash`, `chash`, `uhash`)."),
    _top("AccountHashMixer", "account_hash_mixer", STRING, "", "When set, events must carry an `acct` hash of the host mixed with this value."),
    _top("CFlagsMarketing", "cflags_marketing", INT64, 0, "Consent flag bits an event's `cflags` must all hold before it is sent to Facebook (a bit test; the Go tracker compared numbers).", minimum=INT64_MIN, maximum=INT64_MAX),
    _top("CFlagsIgnore", "cflags_ignore", BOOL, False, "Send events that carry no `cflags` at all to Facebook; events with `cflags` still need the `CFlagsMarketing` bits."),
    _top("Debug", "debug", BOOL, False, "Verbose logging.", flag="--debug"),
    _top("SchemaVersion", "schema_version", INT, 0, "Cassandra schema version; must equal `sequences.DB_VER`.", minimum=0),
    _top("Notify", "notify", SERVICES, _DEFAULT_NOTIFY, "Write backends, in order; see [Service entries](#service-entries-notify-and-consume). Absent, it is one `clickhouse` entry (database `sfpla`); events are always stored in ClickHouse (embedded, or `ClickHouseUrl`)."),
    _top("Consume", "consume", SERVICES, (), "Consumers (the Go tracker's NATS consumer); parsed, not connected by this version."),
    _top("PruneLogsTTL", "prune_logs_ttl", INT, 2_592_000, "Age in seconds (by `created_at`) after which `tracker prune` deletes log rows; 0 means 2592000 (30 days).", minimum=0, empty_means_default=True),
    _top("PruneLogsOnly", "prune_logs_only", BOOL, False, "Prune logs only (also set by `--logs-only`).", flag="--logs-only"),
    _top("PruneLogsSkip", "prune_logs_skip", BOOL, False, "Do not prune logs."),
    _top("PruneLogsPageSize", "prune_logs_page_size", INT, 10_000, "Accepted for compatibility: logs are deleted by ClickHouse mutations, one partition at a time, so there are no pages.", minimum=0, empty_means_default=True),
    _top("PruneUpdateConfig", "prune_update_config", BOOL, False, "Accepted and not needed: the config file is never rewritten; a stopped or limited prune resumes from `<DataDir>/prune-state.json`."),
    _top("PruneLimit", "prune_limit", INT, 0, "Stop a prune run after this many rows of the `Prune` rules, oldest first (logs are not counted); the next run goes on. 0 means no limit.", minimum=0),
    _top("PruneSkipToTimestamp", "prune_skip_to_timestamp", INT64, 0, "Prune resume point (unix seconds): older rows are not touched.", minimum=0, maximum=INT64_MAX),
    _top("S3Bucket", "s3_bucket", STRING, "", "S3 bucket the DuckDB Parquet exports are uploaded to; empty keeps them in `<DataDir>/duckdb/export` only."),
    _top("S3Prefix", "s3_prefix", STRING, "", "Key prefix of the DuckDB Parquet exports: `<S3Prefix>/<table>/year=YYYY/month=M/day=D/<file>.parquet`."),
    _top("S3Region", "s3_region", STRING, "", "Region of `S3Bucket`."),
    _top("S3AccessKeyID", "s3_access_key_id", STRING, "", "Access key id for `S3Bucket`."),
    _top("S3SecretAccessKey", "s3_secret_access_key", SECRET, NO_SECRET, "Secret access key for `S3Bucket`."),
    _top("HealthCheckInterval", "health_check_interval", INT, 0, "DuckDB: seconds between scheduled Parquet exports of what the DuckDB file holds; 0 means 300 (the Go tracker's shipped value).", minimum=0),
    _top("InactivityTimeoutSeconds", "inactivity_timeout_seconds", INT, 0, "DuckDB: a scheduled export waits until no row has been written for this many seconds (a size rotation does not wait); 0 means it does not wait.", minimum=0),
    _top("MaxShardSizeBytes", "max_shard_size_bytes", INT64, 104_857_600, "DuckDB: rows written since the last export (counted as their JSON bytes) that rotate the shard at once: export it and start a new one; 0 means 100 MiB.", minimum=0, maximum=INT64_MAX, empty_means_default=True),
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
    _top("BatchingEnabled", "batching_enabled", BOOL, True, _BATCH_DEFAULT.format("BatchingEnabled"), origin="readme"),
    _top("MaxBatchSize", "max_batch_size", INT, None, _BATCH_DEFAULT.format("MaxBatchSize") + " Unset means the per-table batch policies.", origin="readme", minimum=1),
    _top("MaxBatchTime", "max_batch_time", DURATION, None, _BATCH_DEFAULT.format("MaxBatchTime") + " Unset means the per-table batch policies.", origin="readme"),
    _top("BatchFlushInterval", "batch_flush_interval", MILLIS, None, _BATCH_DEFAULT.format("BatchFlushInterval") + " Used as `MaxBatchTime` when that is unset. A plain number is milliseconds, as in the Go tracker's shipped config (`1000` is one second).", origin="readme"),
    _top("EnableCompression", "enable_compression", BOOL, True, _BATCH_DEFAULT.format("EnableCompression"), origin="readme"),
    _top("DataRetentionDays", "data_retention_days", INT, None, "Keep data about people this many days: a ClickHouse TTL on `events`, `visitor_interests`, `userhosts`, `usernames`, `emails`, `cells`, `reqs`, `ips` and `dailies`, set at start-up and removed again when unset. Unset means forever.", origin="readme", minimum=1),
    _top("GeoIPDatabase", "geoip_database", STRING, None, "GeoIP database file: an IP2Location `.BIN`, an IP2Location CSV (or zip), or a MaxMind `.mmdb`; setting it turns GeoIP on. Unset means `IPv4GeoIPZip`/`IPv6GeoIPZip`, else what `tracker geoip import` stored, else the built-in country database.", origin="readme"),
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
    _top("Host", "host", STRING, "0.0.0.0", "Address every listener binds.", origin="ours", flag="--host"),
    _top("Port", "port", INT, 8080, "Port of the HTTP listener (every route, no TLS) when TLS is off; with `UseLocalTLS` or `UseAcme` the listeners are `ProxyPortTLS`, `ProxyPort` and `ProxyExceptHTTP` instead. 0 picks a free port.", origin="ours", minimum=0, maximum=65535, flag="--port"),
    _top("DataDir", "data_dir", PATH, Path("data"), "Directory of the spool, the IP-hash secret and the embedded ClickHouse (`<DataDir>/clickhouse`).", origin="ours", flag="--data-dir"),
    _top("ClickHouseUrl", "clickhouse_url", URL, None, "ClickHouse server over HTTP, e.g. `http://user:password@host:8123`; unset means embedded chDB under `<DataDir>/clickhouse`.", origin="ours", flag="--clickhouse-url"),
    _top("RedirectAllowHosts", "redirect_allow_hosts", STRINGS, (), "Hosts `rdr`/`xrdr` may redirect to besides `Domains`: exact names or `*.example.com` (any subdomain); `[\"*\"]` allows any host (an open redirect, as in the Go tracker). Other targets get 400.", origin="ours"),
    _top("ClickHouseCluster", "clickhouse_cluster", STRING, "", "With `ClickHouseUrl`: the cluster name of a replicated/sharded deployment (`tracker_cluster` in the Go schema); the schema is then created `ON CLUSTER` with Replicated engines and Distributed tables. Empty means a single server.", origin="ours"),
    _top("TrustedProxies", "trusted_proxies", NETWORKS, (), "Proxies (IPs or CIDRs) whose `X-Forwarded-For`, `X-Real-IP` and similar headers are believed; empty means none.", origin="ours"),
    _top("IPHashSecret", "ip_hash_secret", SECRET, None, "Key of the IP hash (`iphash`); unset means one is generated and kept in `<DataDir>/ip-hash.key` (`tracker ip-key rotate` replaces it).", origin="ours"),
    _top("CFlagsAnalytics", "cflags_analytics", INT64, 0, "Consent flag bits (a bit mask) an event's `cflags` must all hold for the event to be stored; events without them are answered as usual, not stored, set no cookie, and count as dropped with reason `no_consent`. 0 means no consent is needed.", origin="ours", minimum=0, maximum=INT64_MAX),
    _top("MaxParamKeys", "max_param_keys", INT, 100, "Keys kept in one event's `params` (and in its `targets`), counted at every depth; the rest are left out and counted in `/metrics` (`dropped_keys`). Bounds what a client can add to the store.", origin="ours", minimum=1),
    _top("MaxOpenConnections", "max_open_connections", INT, 0, "Open client sockets (idle keep-alive and WebSocket ones included); a connection over it gets 503 with `Retry-After: 1` and is closed. 0 means half the open-file limit, at most 10000.", origin="ours", minimum=0),
    _top("AuthFailuresPerIP", "auth_failures_per_ip", INT, 10, "Failed logins to the redirect API (`/rpi/`) allowed per client IP in 10 minutes; more get 429 with `Retry-After`. 0 means no limit.", origin="ours", minimum=0),
    _top("AuthFailuresPerAccount", "auth_failures_per_account", INT, 30, "Failed logins to the redirect API allowed per account id in 10 minutes, from all IPs together; more get 429 with `Retry-After`. 0 means no limit.", origin="ours", minimum=0),
    _top("MaxBodyBytes", "max_body_bytes", INT, 1_048_576, "Largest request body or WebSocket message (after LZ4 decompression) in bytes; larger bodies get 413, a larger message closes its WebSocket with 1009.", origin="ours", minimum=1),
    _top("Workers", "workers", INT, 1, "HTTP worker processes answering on the same port(s) (`SO_REUSEPORT`), each with its own spool, plus one process that owns the store and writes every spool; 1 is one process doing all of it. With more than 1, `SpoolMode` must be `durable` and only the ClickHouse store is written (no DuckDB, NATS or Facebook entries, no `UseAcme`); see docs/workers.md.", origin="ours", minimum=1, maximum=256, flag="--workers"),
    _top("ShutdownTimeoutSeconds", "shutdown_timeout_seconds", FLOAT, 10.0, "Time allowed on shutdown to drain queued events to the sinks.", origin="ours", minimum=0),
    _top("ParseUserAgents", "parse_user_agents", BOOL, True, "Fill `browser` (the browser family), `os` and `device` from the `User-Agent` when the client sent none, and mark bots with `\"bot\": true` in `params`. False keeps the Go tracker's behaviour: `browser` is the lowercased `User-Agent`.", origin="ours"),
    _top("GeoIPDefault", "geoip_default", BOOL, True, "When GeoIP is on and no GeoIP file is configured or imported (or while one is still loading), answer country-only lookups from the registry data built into the `iptocc` package.", origin="ours"),
    _top("SpoolMode", "spool_mode", STRING, "durable", "`durable`: a tracking request is answered once its events are fsync'd to the spool in `<DataDir>/spool`; `memory`: answered at once, lost on a crash (the Go tracker's behaviour).", origin="ours"),
    _top("SpoolMaxBytes", "spool_max_bytes", INT64, 2**30, "Disk the spool may use; when full, new events get 503 with `Retry-After` (nothing accepted is dropped).", origin="ours", minimum=1),
    _top("CircuitBreakerFailures", "circuit_breaker_failures", INT, 5, "Consecutive failed writes that open a sink's circuit (writes pause; events keep being accepted into the spool).", origin="ours", minimum=1),
    _top("CircuitBreakerResetSeconds", "circuit_breaker_reset_seconds", FLOAT, 30.0, "Seconds an open circuit waits before one trial write (half-open).", origin="ours", minimum=0),
    _top("UseAcme", "use_acme", BOOL, False, "Serve TLS with certificates for the hosts in `Domains` from an ACME server (Let's Encrypt unless `AcmeDirectoryUrl` names another), kept in `<DataDir>/acme` and renewed before they expire; the redirect listener answers the http-01 challenges. `UseLocalTLS` wins when both are true (see docs/tls.md).", origin="ours"),
    _top("AcmeDirectoryUrl", "acme_directory_url", URL, None, "ACME directory URL; unset means Let's Encrypt's production directory (its staging directory with `AcmeStaging`).", origin="ours"),
    _top("AcmeStaging", "acme_staging", BOOL, False, "Use Let's Encrypt's staging directory (certificates browsers do not trust, much higher rate limits) when `AcmeDirectoryUrl` is unset.", origin="ours"),
    _top("AcmeEmail", "acme_email", STRING, "", "Contact address of the ACME account (expiry and policy mail); empty registers without one.", origin="ours"),
    _top("AcmeCACert", "acme_ca_cert", STRING, "", "PEM file of the CA that signs the ACME server's own HTTPS certificate (a private ACME server); empty means the system's CAs.", origin="ours"),
    _top("HSTSSeconds", "hsts_seconds", INT, 0, "`max-age` of a `Strict-Transport-Security` header on every TLS listener response; 0 sends none. Browsers then refuse plain HTTP to the host for that long, so turn it on once TLS works.", origin="ours", minimum=0),
    _top("HTTP2", "http2", BOOL, False, "Offer HTTP/2 (ALPN `h2`) on the TLS listener. Off by default: on HTTP/2 connections `MaxHeaderBytes` and the read timeouts are not enforced (see docs/tls.md).", origin="ours"),
    _top("Dashboard", "dashboard", BOOL, True, "Serve the dashboard (`/dashboard/`, login with `tracker accounts add` accounts), the link-building pages and the tracking script `/tr/v{ApiVersion}/t.js`.", origin="ours"),
    _top("DashboardSecret", "dashboard_secret", SECRET, None, "Key that signs dashboard login cookies; set the same value on every instance behind one load balancer. Unset means one is generated and kept in `<DataDir>/dashboard.key`.", origin="ours"),
    _top("DashboardQueryThreads", "dashboard_query_threads", INT, 2, "Threads (each with its own store session) that run dashboard queries; at most this many run at once, beside ingestion.", origin="ours", minimum=1, maximum=64),
    _top("DashboardQueryTimeoutSeconds", "dashboard_query_timeout_seconds", FLOAT, 10.0, "Time limit of one dashboard query (`max_execution_time`); a panel over it shows an error.", origin="ours", minimum=1),
    _top("BatchPolicies", "batch_policies", POLICIES, (), "Per-table batching, e.g. `{\"events\": {\"Strategy\": \"adaptive\", \"MaxBatchSize\": 5000, \"MaxBatchTime\": \"1s\"}}`. Keys: `Strategy` (immediate, time, size, hybrid, memory, adaptive), `MaxBatchSize`, `MaxBatchTime`, `MaxMemoryMB`, `Retries`, `MinBatchSize` and `TargetLatencyMs` (adaptive).", origin="ours"),
    _top("S3EndpointUrl", "s3_endpoint_url", URL, None, "S3-compatible endpoint of the DuckDB exports (MinIO, a test server); unset means AWS S3 in `S3Region`.", origin="ours"),
    SettingSpec("FbPixel", STRING, None, "Facebook pixel id: sets `Context` of the last `facebook` Notify entry, or adds one. The environment wins over the flag, as in the Go tracker.", scope="cli", env="FB_PIXEL", flag="--fb-pixel"),
    SettingSpec("FbToken", SECRET, None, "Facebook access token: sets `Key` of the same entry as `FbPixel`.", scope="cli", env="FB_TOKEN", flag="--fb-token"),
)
# fmt: on


def _s(
    key: str, attr: str, type_: SettingType, default: object, help_: str, minimum: int | None = None
) -> SettingSpec:
    return _in("service", key, attr, type_, default, help_, minimum)


# fmt: off
_SERVICE_KEYS: tuple[SettingSpec, ...] = (
    _s("Service", "service", STRING, "", "`clickhouse`, `cassandra`, `duckdb`, `nats` or `facebook`. Any other value (by convention a trailing `_`, as in `clickhouse_`) disables the entry."),
    _s("Skip", "skip", BOOL, False, "Never connected and never written."),
    _s("Critical", "critical", BOOL, False, "A connection failure stops the tracker at startup. For ClickHouse: when false (the default) the tracker starts anyway, the spool takes the traffic and the store is retried in the background; a store that answers but refuses the tracker (credentials, grants, schema) stops the start-up either way."),
    _s("Hosts", "hosts", STRINGS, (), "ClickHouse native `host:port` endpoints, Cassandra seeds or NATS URLs. ClickHouse data goes where `ClickHouseUrl` points."),
    _s("Context", "context", STRING, "", "ClickHouse database (empty means `sfpla`), Cassandra keyspace, NATS publish subject, or Facebook pixel id."),
    _s("Username", "username", STRING, "", "ClickHouse user name."),
    _s("Password", "password", SECRET, NO_SECRET, "ClickHouse password."),
    _s("Key", "key", SECRET, NO_SECRET, "Facebook access token; NATS or Cassandra client key file."),
    _s("Cert", "cert", STRING, "", "Client certificate file."),
    _s("CACert", "ca_cert", STRING, "", "CA certificate file."),
    _s("Secure", "secure", BOOL, False, "ClickHouse: TLS with verification. Cassandra: host verification. NATS: TLS is required (the server certificate is always verified; the Go tracker skipped verification exactly when this was true)."),
    _s("Unencrypted", "unencrypted", BOOL, False, "Cassandra: no TLS."),
    _s("Timeout", "timeout_ms", INT, 0, "Dial or connect timeout in milliseconds; 0 means the driver's default.", 0),
    _s("Connections", "connections", INT, 0, "ClickHouse: open connections (at least 10). Cassandra: connections per host.", 0),
    _s("Retries", "retries", INT, 0, "Cassandra retry count.", 0),
    _s("AttemptAll", "attempt_all", BOOL, False, "Facebook: send every eligible event, not only those with `fbx`."),
    SettingSpec("GraphApiUrl", URL, "https://graph.facebook.com", "Facebook: base URL of the Graph API (a test server, or a proxy).", "graph_api_url", scope="service", origin="ours"),
    SettingSpec("GraphApiVersion", STRING, "v24.0", "Facebook: Graph API version of the Conversions API requests (the Go tracker used v12.0).", "graph_api_version", scope="service", origin="ours"),
    _s("Filter", "filter", FILTERS, (), "NATS consumer subjects; see `Filter[]` below."),
    _s("Prune", "prune", PRUNES, (), "Prune rules; see `Prune[]` below."),
    _s("ProxyRealtimeStorageServiceName", "proxy_realtime_storage_service_name", STRING, "", "DuckDB: the realtime store, as in the Go tracker: `clickhouse` makes ClickHouse keep only the tables whose bit is set in `ProxyRealtimeStorageServiceTables` (tables without a bit are always kept); DuckDB keeps the history. Another name has no effect here (with a warning)."),
    _s("ProxyRealtimeStorageServiceTables", "proxy_realtime_storage_service_tables", UINT64, 0, "DuckDB: bitmask of the tables forwarded, one bit each, as in the Go tracker: events 1, events_recent 2, visitors 4, visitors_latest 8, sessions 16, ips 32, routed 64, hits 128, dailies 256, outcomes 512, referrers 1024, referrals 2048, referred 4096, hosts 8192, browsers 16384, nodes 32768, locations 65536, aliases 131072, userhosts 262144, usernames 524288, emails 1048576, cells 2097152, reqs 4194304, ltv 2^23, ltvu 2^24, ltvv 2^25, agreements 2^26, agreed 2^27, jurisdictions 2^28, redirects 2^29, redirect_history 2^30, counters 2^31, updates 2^32, logs 2^33."),
    SettingSpec("BatchingEnabled", BOOL, None, "ClickHouse: batch inserts; false writes each row at once. Unset takes the top-level `BatchingEnabled` (default true).", "batching_enabled", scope="service", origin="readme"),
    SettingSpec("MaxBatchSize", INT, None, "ClickHouse: rows per events batch. Unset takes the top-level `MaxBatchSize`, then the per-table policies. DuckDB, NATS, Facebook: rows per batch of that backend (Facebook at most 1000).", "max_batch_size", scope="service", origin="readme", minimum=1),
    SettingSpec("MaxBatchTime", DURATION, None, "ClickHouse: longest time an events batch waits. Unset takes the top-level `MaxBatchTime`, then the per-table policies. DuckDB, NATS, Facebook: longest time a batch of that backend waits.", "max_batch_time", scope="service", origin="readme"),
    SettingSpec("BatchFlushInterval", MILLIS, None, "ClickHouse: the events batch age limit when `MaxBatchTime` is unset; a plain number is milliseconds (`1000` is one second). Unset takes the top-level `BatchFlushInterval`.", "batch_flush_interval", scope="service", origin="readme"),
    SettingSpec("EnableCompression", BOOL, None, "ClickHouse server: compress inserts. Unset takes the top-level `EnableCompression` (default true).", "enable_compression", scope="service", origin="readme"),
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
    _in("filter", "Type", "type", STRING, "", "Unused (as in the Go tracker)."),
    _in("filter", "Alias", "alias", STRING, "", "What the subject carries: `log`, `count` or `update`."),
    _in("filter", "Id", "id", STRING, "", "NATS subject to consume, e.g. `tic.log.>`."),
    _in("filter", "Queries", "queries", QUERIES, (), "Cassandra statements of the Go tracker's configs; unused."),
    _in("query", "Statement", "statement", STRING, "", "A CQL statement; unused."),
    _in("query", "QueryType", "query_type", STRING, "", "Unused."),
    _in("query", "Fields", "fields", FIELDS, (), "Unused."),
    _in("prune", "Table", "table", STRING, "", "Table to prune: a table of the schema, or `visitors`, `sessions`, `events_recent` (views over `events` here, so `events` is pruned)."),
    SettingSpec("TTL", INT64, 0, "Age in seconds (by the table's `created_at`, or its other time column) after which rows are pruned.", "ttl", scope="prune", minimum=0, maximum=INT64_MAX),
    SettingSpec("PageSize", INT, 0, "Accepted for compatibility: each partition is pruned by one ClickHouse mutation, so there are no pages.", "page_size", scope="prune", minimum=0),
    _in("prune", "CFlagsIgnore", "cflags_ignore", INT64S, (), "Rows whose `cflags` share a bit with these values are kept."),
    _in("prune", "ClearAll", "clear_all", BOOL, False, "Delete expired rows instead of clearing fields."),
    _in("prune", "ClearParams", "clear_params", BOOL, False, "Replace `params` by the field hashes (`{}` when there are none) instead of merging them in."),
    _in("prune", "ClearNumericParams", "clear_numeric_params", BOOL, False, "Accepted; ClickHouse has no `nparams` column (numbers stay in `params`), so nothing is cleared."),
    _in("prune", "Fields", "fields", FIELDS, (), "Columns to clear; see `Fields[]` below."),
    _in("field", "Id", "id", STRING, "", "Column name."),
    _in("field", "Type", "type", STRING, "", "Column type (e.g. `ip4`); unused."),
    _in("field", "Default", "default", STRING, "", "Value the column is set to (cast to its type); empty means the type's default (`''`, 0, the zero UUID)."),
    _in("field", "DestParamHash", "dest_param_hash", STRING, "", "When set, `params` keeps base64url(SHA-1(old value)) under this name."),
)
# fmt: on

SETTINGS_TABLE: tuple[SettingSpec, ...] = (
    _GO_KEYS + _README_KEYS + _OUR_KEYS + _SERVICE_KEYS + _NESTED_KEYS
)


def specs(scope: str) -> tuple[SettingSpec, ...]:
    return tuple(spec for spec in SETTINGS_TABLE if spec.scope == scope)

"""Typed settings: what `load_settings` returns. Frozen; secrets wrapped so `repr` hides them.

Attribute names are the snake_case of the config.json keys (`SETTINGS_TABLE` holds the mapping).
The dataclass defaults are the built-in defaults used when there is no config file at all, so
`Settings()` equals `load_settings(None, env={})[0]`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tracker.config.values import NO_SECRET, Secret

IMPLEMENTED_SERVICES = frozenset({"clickhouse", "cassandra", "duckdb", "nats", "facebook"})
# Services the Go tracker knew that this version parses but does not connect yet.
NOT_YET_SERVED = frozenset({"cassandra"})
DEFAULT_DATABASE = "sfpla"


@dataclass(frozen=True)
class PruneField:
    """A column a prune rule clears (`Prune[].Fields[]`; also `Filter[].Queries[].Fields[]`)."""

    id: str = ""
    type: str = ""
    default: str = ""
    dest_param_hash: str = ""


@dataclass(frozen=True)
class PruneRule:
    """One `Prune[]` entry of a service: a table, an age and what `tracker prune` clears."""

    table: str = ""
    ttl: int = 0
    page_size: int = 0
    cflags_ignore: tuple[int, ...] = ()
    clear_all: bool = False
    clear_params: bool = False
    clear_numeric_params: bool = False
    fields: tuple[PruneField, ...] = ()


@dataclass(frozen=True)
class FilterQuery:
    """A `Filter[].Queries[]` entry: Cassandra statements of old configs, read but unused."""

    statement: str = ""
    query_type: str = ""
    fields: tuple[PruneField, ...] = ()


@dataclass(frozen=True)
class FilterEntry:
    """A `Filter[]` entry: for a NATS consumer, `id` is the subject and `alias` log/count/update."""

    type: str = ""
    alias: str = ""
    id: str = ""
    queries: tuple[FilterQuery, ...] = ()


@dataclass(frozen=True)
class Service:
    """One `Notify[]` or `Consume[]` entry of the Go tracker, plus the batching keys we honour."""

    service: str = ""
    skip: bool = False
    critical: bool = False
    hosts: tuple[str, ...] = ()
    context: str = ""
    username: str = ""
    password: Secret = NO_SECRET
    key: Secret = NO_SECRET
    cert: str = ""
    ca_cert: str = ""
    secure: bool = False
    unencrypted: bool = False
    timeout_ms: int = 0
    connections: int = 0
    retries: int = 0
    attempt_all: bool = False
    filter: tuple[FilterEntry, ...] = ()
    prune: tuple[PruneRule, ...] = ()
    proxy_realtime_storage_service_name: str = ""
    proxy_realtime_storage_service_tables: int = 0
    graph_api_url: str = "https://graph.facebook.com"
    graph_api_version: str = "v24.0"
    batching_enabled: bool = True
    max_batch_size: int | None = None  # None: the per-table batch policies decide
    max_batch_time: float | None = None  # seconds
    batch_flush_interval: float | None = None  # seconds
    enable_compression: bool = True

    @property
    def implemented(self) -> bool:
        """Whether the entry names a backend; `clickhouse_` (trailing `_`) is disabled, as in Go."""
        return self.service in IMPLEMENTED_SERVICES


@dataclass(frozen=True)
class BatchPolicyConfig:
    """One table's entry of `BatchPolicies`; None leaves the built-in default."""

    strategy: str | None = None
    max_batch_size: int | None = None
    max_batch_time: float | None = None
    max_memory_mb: float | None = None
    retries: int | None = None
    min_batch_size: int | None = None
    target_latency_ms: float | None = None


@dataclass(frozen=True)
class Settings:
    """Every top-level config.json key of the Go tracker, plus this tracker's own (Host, Port, …)."""

    api_version: int = 1
    domains: tuple[str, ...] = ("localhost",)
    static_directory: str = ""
    temp_directory: str = ""
    use_geoip: bool = True  # with no config file; a config file without the key gives False
    geoip_version: int = 0
    ipv4_geoip_zip: str = ""
    ipv6_geoip_zip: str = ""
    ipv4_geoip_csv_dest: str = ""
    ipv6_geoip_csv_dest: str = ""
    use_region_descriptions: bool = False
    use_remove_ip: bool = False
    use_local_tls: bool = False
    tls_cert: str = ""
    tls_key: str = ""
    ignore_insecure_tls: bool = False
    proxy_port: str = ""
    proxy_port_tls: str = ""
    proxy_port_redirect: str = ""
    proxy_except_http: str = ""
    proxy_url: str = ""
    proxy_url_filter: str = ""
    ignore_proxy_options: bool = False
    proxy_force_json: bool = False
    proxy_daily_limit: int = 0
    proxy_daily_limit_checker: str = ""
    allow_origin: str = "*"
    maximum_connections: int = 0  # 0 means unlimited (in Go, 0 answered every request 503)
    read_timeout_seconds: int = 60
    read_header_timeout_seconds: int = 10
    write_timeout_seconds: int = 60
    idle_timeout_seconds: int = 30
    max_header_bytes: int = 1_048_576
    default_redirect: str = ""
    url_filter: str = ""
    url_filter_match_group: int = 0
    ignore_query_params_key: str = ""
    prefix_private_hash: str = field(default="", repr=False)  # a salt: kept out of repr
    account_hash_mixer: str = field(default="", repr=False)
    cflags_marketing: int = 0
    cflags_ignore: bool = False
    debug: bool = False
    schema_version: int = 0
    notify: tuple[Service, ...] = (Service("clickhouse", context=DEFAULT_DATABASE),)
    consume: tuple[Service, ...] = ()
    prune_logs_ttl: int = 2_592_000
    prune_logs_only: bool = False
    prune_logs_skip: bool = False
    prune_logs_page_size: int = 10_000
    prune_update_config: bool = False
    prune_limit: int = 0
    prune_skip_to_timestamp: int = 0
    s3_bucket: str = ""
    s3_prefix: str = ""
    s3_region: str = ""
    s3_access_key_id: str = ""
    s3_secret_access_key: Secret = NO_SECRET
    health_check_interval: int = 0
    inactivity_timeout_seconds: int = 0
    max_shard_size_bytes: int = 104_857_600
    s3_endpoint_url: str | None = None
    # Keys the Go README used and the Go tracker ignored; honoured here.
    batching_enabled: bool = True
    max_batch_size: int | None = None
    max_batch_time: float | None = None
    batch_flush_interval: float | None = None
    enable_compression: bool = True
    data_retention_days: int | None = None
    geoip_database: str | None = None
    # This tracker's own keys.
    host: str = "0.0.0.0"
    port: int = 8080
    data_dir: Path = Path("data")
    clickhouse_url: str | None = field(default=None, repr=False)  # may hold a password
    clickhouse_cluster: str = ""
    trusted_proxies: tuple[str, ...] = ()
    redirect_allow_hosts: tuple[str, ...] = ()
    ip_hash_secret: Secret | None = None
    cflags_analytics: int = 0  # consent bits an event needs to be stored; 0 asks none
    max_param_keys: int = 100
    max_open_connections: int = 0  # 0: half the open-file limit, at most 10000
    auth_failures_per_ip: int = 10
    auth_failures_per_account: int = 30
    max_body_bytes: int = 1_048_576
    shutdown_timeout_seconds: float = 10.0
    workers: int = 1  # HTTP worker processes; more than 1: docs/workers.md
    geoip_default: bool = True
    parse_user_agents: bool = True
    spool_mode: str = "durable"
    spool_max_bytes: int = 2**30
    circuit_breaker_failures: int = 5
    circuit_breaker_reset_seconds: float = 30.0
    batch_policies: tuple[tuple[str, BatchPolicyConfig], ...] = ()
    use_acme: bool = False
    acme_directory_url: str | None = None
    acme_staging: bool = False
    acme_email: str = ""
    acme_ca_cert: str = ""
    hsts_seconds: int = 0
    http2: bool = False
    dashboard: bool = True
    dashboard_secret: Secret | None = None
    dashboard_query_threads: int = 2
    dashboard_query_timeout_seconds: float = 10.0

    @property
    def clickhouse_services(self) -> tuple[Service, ...]:
        """The enabled ClickHouse `Notify` entries (the one place that looks them up)."""
        return tuple(s for s in self.notify if s.service == "clickhouse" and not s.skip)

    @property
    def clickhouse(self) -> Service | None:
        """The enabled ClickHouse `Notify` entry the store is written by: the first one."""
        services = self.clickhouse_services
        return services[0] if services else None

    def enabled(self, service: str) -> tuple[Service, ...]:
        """The enabled `Notify` entries of one backend (`duckdb`, `nats`, `facebook`)."""
        return tuple(s for s in self.notify if s.service == service and not s.skip)

    @property
    def database(self) -> str:
        """The ClickHouse database: `Context` of the enabled ClickHouse Notify entry, else sfpla."""
        service = self.clickhouse
        return (service.context if service else "") or DEFAULT_DATABASE

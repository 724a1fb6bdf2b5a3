"""config.json, environment and flags into typed settings (tracker.config)."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from tracker.config import (
    SETTINGS_TABLE,
    ConfigError,
    FilterEntry,
    FilterQuery,
    PruneField,
    PruneRule,
    Secret,
    Service,
    Settings,
    load_settings,
    render_markdown,
)
from tracker.config.types import ObjectList, ValueType
from tracker.config.values import Where

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"

# Every top-level key the Go tracker reads, with its shipped values where it has them.
GO_CONFIG: dict[str, Any] = {
    "ApiVersion": 1,
    "Domains": ["localhost", "dev.sfpl.io", "tr.sfpl.io"],
    "StaticDirectory": "public",
    "TempDirectory": "./tmp/",
    "UseGeoIP": True,
    "GeoIPVersion": 1,
    "IPv4GeoIPZip": "./.setup/geoip/IP2LOCATION-LITE-DB11.CSV.ZIP",
    "IPv6GeoIPZip": "./.setup/geoip/IP2LOCATION-LITE-DB11.IPV6.CSV.ZIP",
    "IPv4GeoIPCSVDest": "IP2LOCATION-LITE-DB11.CSV",
    "IPv6GeoIPCSVDest": "IP2LOCATION-LITE-DB11.IPV6.CSV",
    "UseRegionDescriptions": True,
    "UseRemoveIP": True,
    "UseLocalTLS": True,
    "TLSCert": "./.setup/keys/nginx.crt",
    "TLSKey": "./.setup/keys/nginx.key",
    "IgnoreInsecureTLS": True,
    "ProxyPort": ":8080",
    "ProxyPortTLS": ":8443",
    "ProxyPortRedirect": "",
    "ProxyExceptHTTP": ":8880",
    "ProxyUrl": "http://localhost:3030",
    "ProxyUrlFilter": ".*(dontlogthese|login|css|js|json|jpeg|jpg|gif|png|ico)",
    "IgnoreProxyOptions": False,
    "ProxyForceJson": False,
    "ProxyDailyLimit": 0,
    "ProxyDailyLimitChecker": "cassandra",
    "AllowOrigin": "*",
    "MaximumConnections": 150000,
    "ReadTimeoutSeconds": 20,
    "ReadHeaderTimeoutSeconds": 20,
    "WriteTimeoutSeconds": 20,
    "IdleTimeoutSeconds": 20,
    "MaxHeaderBytes": 1048576,
    "DefaultRedirect": "https://sfpl.io",
    "UrlFilter": r"http(s|)://(api|tr|dev|spark|)(\.staging\.|\.|)(sfpl\.io|localhost)(:[0-9]*|)(/[^\?#]*)(\?|#|)",
    "UrlFilterMatchGroup": 6,
    "IgnoreQueryParamsKey": "igqp",
    "PrefixPrivateHash": "",
    "AccountHashMixer": "",
    "CFlagsMarketing": 4096,
    "CFlagsIgnore": False,
    "Debug": True,
    "SchemaVersion": 3,
    "PruneLogsTTL": 2592000,
    "PruneLogsOnly": False,
    "PruneLogsSkip": False,
    "PruneLogsPageSize": 0,
    "PruneUpdateConfig": False,
    "PruneLimit": 100000,
    "PruneSkipToTimestamp": 0,
    "S3Bucket": "your-bucket",
    "S3Prefix": "tracker/",
    "S3Region": "us-west-1",
    "S3AccessKeyID": "AKIAEXAMPLE",
    "S3SecretAccessKey": "s3-secret-value",
    "HealthCheckInterval": 300,
    "InactivityTimeoutSeconds": 600,
    "MaxShardSizeBytes": 0,
    "IsUrlFiltered": True,
    "ConfigFile": "config.json",
    "NodeId": "abc",
    "API": {},
    "ProxyDailyLimitCheck": None,
    "Notify": [
        {
            "Service": "duckdb_",
            "Context": "./data/duck.db",
            "ProxyRealtimeStorageServiceName": "clickhouse",
            "ProxyRealtimeStorageServiceTables": 18446744060824649724,
        },
        {
            "Service": "clickhouse",
            "Hosts": ["localhost:9000"],
            "Context": "sfpla",
            "Username": "default",
            "Password": "ch-password-value",
            "Timeout": 300,
            "Connections": 10,
            "Critical": True,
            "BatchingEnabled": True,
            "MaxBatchSize": 1000,
            "MaxBatchTime": "2s",
            "BatchFlushInterval": "500ms",
            "EnableCompression": True,
            "Prune": [
                {
                    "Table": "events",
                    "TTL": 7776000,
                    "PageSize": 5000,
                    "CFlagsIgnore": [1024, 2048],
                    "ClearParams": True,
                    "Fields": [
                        {"Id": "ip", "Type": "inet", "DestParamHash": "iphash"},
                        {"Id": "latlon", "Type": "point"},
                    ],
                }
            ],
        },
        {
            "Service": "cassandra_",
            "Hosts": ["127.0.0.1"],
            "Context": "sfpla",
            "Connections": 2,
            "Retries": 3,
            "Unencrypted": True,
            "Filter": [
                {
                    "Alias": "log",
                    "Id": "log",
                    "Queries": [
                        {
                            "Statement": "INSERT INTO logs JSON ?",
                            "QueryType": "json",
                            "Fields": [{"Type": "string", "Id": "name"}],
                        }
                    ],
                }
            ],
        },
        {
            "Service": "nats_",
            "Hosts": ["tls://localhost:4222"],
            "Context": "toc.track.notify",
            "Secure": True,
            "CACert": "./.setup/keys/rootCa.crt",
            "Cert": "./.setup/keys/nats-client.crt",
            "Key": "./.setup/keys/nats-client.key",
            "Format": "json",
            "Filter": [
                {"Alias": "log", "Type": "chan", "Id": "tic.log.>"},
                {"Alias": "count", "Type": "chan", "Id": "tic.count.>"},
            ],
        },
        {
            "Service": "facebook_",
            "Context": "123456789",
            "Key": "fb-token-value",
            "AttemptAll": True,
        },
    ],
    "Consume": [
        {"Service": "http_", "Note": "Not implemented"},
        {
            "Service": "nats_",
            "Hosts": ["tls://localhost:4222"],
            "Critical": True,
            "MessageLimit": 65536,
            "ByteLimit": 67108864,
            "Filter": [
                {"Alias": "log", "Type": "chan", "Id": "tic.log.>"},
                {"Alias": "update", "Type": "chan", "Id": "tic.update.>"},
            ],
        },
    ],
}


def write(tmp_path: Path, config: object) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config, indent=4))
    return path


def load(tmp_path: Path, config: object, **kwargs: Any) -> tuple[Settings, list[str]]:
    return load_settings(write(tmp_path, config), env=kwargs.pop("env", {}), **kwargs)


def test_the_fixture_holds_every_key_the_go_tracker_reads() -> None:
    go_keys = {s.key for s in SETTINGS_TABLE if s.scope == "top" and s.origin == "go"}
    assert go_keys == set(GO_CONFIG)


def test_a_go_tracker_config_with_every_key_loads_with_typed_values(tmp_path: Path) -> None:
    settings, warnings = load(tmp_path, GO_CONFIG)

    assert settings.api_version == 1
    assert settings.domains == ("localhost", "dev.sfpl.io", "tr.sfpl.io")
    assert settings.use_geoip is True
    assert settings.use_remove_ip is True
    assert settings.proxy_port == ":8080"
    assert settings.proxy_port_tls == ":8443"
    assert settings.proxy_except_http == ":8880"
    assert settings.proxy_url_filter == GO_CONFIG["ProxyUrlFilter"]
    assert settings.maximum_connections == 150000
    assert settings.read_timeout_seconds == 20
    assert settings.url_filter == GO_CONFIG["UrlFilter"]
    assert settings.url_filter_match_group == 6
    assert settings.cflags_marketing == 4096
    assert settings.schema_version == 3
    assert settings.prune_limit == 100000
    assert settings.prune_logs_page_size == 10000  # 0 means 10000, as in Go
    assert settings.max_shard_size_bytes == 104_857_600  # 0 means 100 MiB, as in Go
    assert settings.s3_secret_access_key == Secret("s3-secret-value")
    assert settings.inactivity_timeout_seconds == 600
    assert settings.database == "sfpla"
    assert sorted(warnings) == sorted(
        [
            "Config key 'IsUrlFiltered' ignored: internal to the Go tracker (derived from 'UrlFilter').",
            "Config key 'ConfigFile' ignored: internal to the Go tracker (the path the file was read from).",
            "Config key 'NodeId' ignored: internal to the Go tracker (a fresh id per process).",
            "Config key 'API' ignored: internal to the Go tracker (the service that answers the APIs).",
            "Config key 'ProxyDailyLimitCheck' ignored: internal to the Go tracker (a function).",
            "Notify[1] lists ClickHouse Hosts ['localhost:9000'] but ClickHouseUrl is not set: "
            "events go to the embedded chDB in 'data/clickhouse'. "
            "Set ClickHouseUrl (e.g. http://host:8123) to write to that server",
        ]
    )


def test_the_shipped_notify_and_consume_lists_load_into_typed_entries(tmp_path: Path) -> None:
    settings, _ = load(tmp_path, GO_CONFIG)

    duck, clickhouse, cassandra, nats, facebook = settings.notify
    assert [s.implemented for s in settings.notify] == [False, True, False, False, False]
    assert duck.proxy_realtime_storage_service_tables == 18446744060824649724
    assert clickhouse.hosts == ("localhost:9000",)
    assert clickhouse.password == Secret("ch-password-value")
    assert (clickhouse.timeout_ms, clickhouse.connections, clickhouse.critical) == (300, 10, True)
    assert clickhouse.batching_enabled is True
    assert clickhouse.max_batch_size == 1000
    assert clickhouse.max_batch_time == 2.0
    assert clickhouse.batch_flush_interval == 0.5
    assert clickhouse.prune == (
        PruneRule(
            table="events",
            ttl=7776000,
            page_size=5000,
            cflags_ignore=(1024, 2048),
            clear_params=True,
            fields=(
                PruneField(id="ip", type="inet", dest_param_hash="iphash"),
                PruneField(id="latlon", type="point"),
            ),
        ),
    )
    assert (cassandra.retries, cassandra.unencrypted) == (3, True)
    assert cassandra.filter[0].queries[0].statement == "INSERT INTO logs JSON ?"
    assert nats.filter == (
        FilterEntry(type="chan", alias="log", id="tic.log.>"),
        FilterEntry(type="chan", alias="count", id="tic.count.>"),
    )
    assert (nats.secure, nats.key) == (True, Secret("./.setup/keys/nats-client.key"))
    assert (facebook.context, facebook.key, facebook.attempt_all) == (
        "123456789",
        Secret("fb-token-value"),
        True,
    )
    http, consumer = settings.consume
    assert (http.service, http.implemented) == ("http_", False)
    assert consumer.filter[1] == FilterEntry(type="chan", alias="update", id="tic.update.>")


def test_no_config_file_gives_the_built_in_defaults() -> None:
    settings, warnings = load_settings(None, env={})

    assert settings.port == 8080
    assert settings.host == "0.0.0.0"
    assert settings.data_dir == Path("data")
    assert settings.domains == ("localhost",)
    assert settings.database == "sfpla"
    assert settings.api_version == 1
    assert settings.clickhouse_url is None
    assert settings.notify == (Service("clickhouse", context="sfpla"),)
    assert settings.maximum_connections == 0
    assert settings.allow_origin == "*"
    assert (settings.prune_logs_ttl, settings.prune_logs_page_size) == (2592000, 10000)
    assert settings == Settings()
    assert warnings == []


def test_a_key_absent_from_a_config_file_takes_the_go_zero_value(tmp_path: Path) -> None:
    settings, warnings = load(tmp_path, {"AllowOrigin": "", "PruneLogsTTL": 0, "MaxHeaderBytes": 0})

    assert settings.domains == ()
    assert settings.allow_origin == "*"
    assert settings.prune_logs_ttl == 2592000
    assert settings.max_header_bytes == 1048576
    assert warnings == []


def test_a_config_file_without_api_version_or_notify_still_serves_v1_into_clickhouse(
    tmp_path: Path,
) -> None:
    settings, _ = load(tmp_path, {"Domains": ["example.com"]})

    assert settings.api_version == 1  # Go's zero value made this /tr/v0/
    assert [s.service for s in settings.notify] == ["clickhouse"]
    assert settings.database == "sfpla"


def test_a_disabled_clickhouse_entry_is_warned_about(tmp_path: Path) -> None:
    _, warnings = load(tmp_path, {"Notify": [{"Service": "clickhouse_"}]})

    assert any("No clickhouse Notify entry is enabled" in w for w in warnings)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"MaxBatchSize": "ten"},
            "Config key 'MaxBatchSize' has value 'ten': expected a whole number.",
        ),
        ({"UseGeoIP": "yes"}, "Config key 'UseGeoIP' has value 'yes': expected true or false."),
        (
            {"ProxyPortTLS": "8443x"},
            "Config key 'ProxyPortTLS' has value '8443x': expected a port written as "
            "':<1-65535>' (for example ':8443') or an empty string.",
        ),
        (
            {"ProxyPort": ":70000"},
            "Config key 'ProxyPort' has value ':70000': expected a port written as "
            "':<1-65535>' (for example ':8443') or an empty string.",
        ),
        (
            {"UrlFilter": "("},
            "Config key 'UrlFilter' has value '(': expected a regular expression "
            "(missing ), unterminated subpattern at position 0).",
        ),
        (
            {"MaximumConnections": 1.5},
            "Config key 'MaximumConnections' has value 1.5: expected a whole number.",
        ),
        (
            {"MaximumConnections": True},
            "Config key 'MaximumConnections' has value true: expected a whole number.",
        ),
        (
            {"MaximumConnections": -1},
            "Config key 'MaximumConnections' has value -1: expected a whole number of at least 0.",
        ),
        (
            {"MaxConnections": "many"},
            "Config key 'MaxConnections' has value 'many': expected a whole number.",
        ),
        (
            {"Domains": "localhost"},
            "Config key 'Domains' has value 'localhost': expected a list of strings.",
        ),
        (
            {"Notify": [{"Service": "clickhouse", "MaxBatchSize": "ten"}]},
            "Config key 'Notify[0].MaxBatchSize' has value 'ten': expected a whole number.",
        ),
        (
            {"Notify": [{"Service": "clickhouse", "MaxBatchTime": "2 seconds"}]},
            "Config key 'Notify[0].MaxBatchTime' has value '2 seconds': expected a duration "
            "such as '2s', '500ms' or '1m', or a number of seconds.",
        ),
        (
            {"Notify": [{"Service": "duckdb", "ProxyRealtimeStorageServiceTables": 2**64}]},
            "Config key 'Notify[0].ProxyRealtimeStorageServiceTables' has value "
            "18446744073709551616: expected a whole number of at most 18446744073709551615.",
        ),
        (
            {"Notify": [{"Service": "clickhouse", "Password": 1234}]},
            "Config key 'Notify[0].Password' has value '***': expected a string.",
        ),
        (
            {"Notify": [{"Service": "clickhouse", "Prune": [{"Fields": [{"Id": 7}]}]}]},
            "Config key 'Notify[0].Prune[0].Fields[0].Id' has value 7: expected a string.",
        ),
        (
            {"Notify": {"Service": "clickhouse"}},
            "Config key 'Notify' has value "
            '{"Service": "clickhouse"}: expected a list of objects, each a service '
            "(with a 'Service' key).",
        ),
        (
            {"TrustedProxies": ["10.0.0.0/8", "10.0.0.0/33"]},
            "Config key 'TrustedProxies[1]' has value '10.0.0.0/33': expected an IP address "
            "or a CIDR network such as '10.0.0.0/8'.",
        ),
        (
            {"ClickHouseUrl": "ftp://user:hunter2@host"},
            "Config key 'ClickHouseUrl' has value 'ftp://user:***@host': expected an http:// or "
            "https:// URL such as 'http://user:password@localhost:8123'.",
        ),
        (
            {"Notify": [{"Service": "clickhouse", "Context": "sf-pla"}]},
            "Config key 'Notify[0].Context' has value 'sf-pla': expected a ClickHouse database "
            "name (letters, digits and underscores, not starting with a digit).",
        ),
        (
            {"UseLocalTLS": True, "TLSKey": "k.pem"},
            "Config key 'TLSCert' is empty: expected a PEM file, because UseLocalTLS is true.",
        ),
    ],
)
def test_a_bad_value_names_the_key_the_value_and_what_was_expected(
    tmp_path: Path, config: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, config)
    assert str(caught.value) == message


def test_a_bad_environment_value_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, env={"TRACKER_PORT": "80a"})
    assert str(caught.value) == (
        "Config key 'Port' (environment variable TRACKER_PORT) has value '80a': "
        "expected a whole number."
    )


def test_booleans_and_numbers_may_be_text_in_the_environment_but_not_in_the_file(
    tmp_path: Path,
) -> None:
    env = {
        "TRACKER_USE_REMOVE_IP": "true",
        "TRACKER_MAXIMUM_CONNECTIONS": "5000",
        "TRACKER_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.1",
        "TRACKER_MAX_BATCH_TIME": "250ms",
        "TRACKER_DEBUG": "",  # empty counts as unset
    }
    settings, _ = load_settings(None, env=env)
    assert settings.use_remove_ip is True
    assert settings.maximum_connections == 5000
    assert settings.trusted_proxies == ("10.0.0.0/8", "192.168.1.1")
    assert settings.max_batch_time == 0.25
    assert settings.debug is False

    with pytest.raises(ConfigError, match="'UseRemoveIP' has value 'true': expected true or false"):
        load(tmp_path, {"UseRemoveIP": "true"})


@pytest.mark.parametrize(
    ("written", "seconds"),
    [
        ("2s", 2.0),
        ("500ms", 0.5),
        ("1m", 60.0),
        ("1m30s", 90.0),
        ("1.5h", 5400.0),
        (3, 3.0),
        ("0.25", 0.25),
    ],
)
def test_durations_are_read_as_go_writes_them(
    tmp_path: Path, written: object, seconds: float
) -> None:
    settings, _ = load(tmp_path, {"Notify": [{"Service": "clickhouse", "MaxBatchTime": written}]})
    assert settings.notify[0].max_batch_time == seconds


def test_an_unknown_key_is_a_warning_not_an_error(tmp_path: Path) -> None:
    settings, warnings = load(
        tmp_path, {"Foo": 1, "Notify": [{"Service": "clickhouse", "Retry": False}]}
    )
    assert "Unknown config key 'Foo' ignored" in warnings
    assert "Unknown config key 'Notify[0].Retry' ignored" in warnings
    assert settings.notify[0].service == "clickhouse"


def test_keys_match_regardless_of_case_as_in_go_with_a_warning(tmp_path: Path) -> None:
    settings, warnings = load(tmp_path, {"maximumconnections": 7})
    assert settings.maximum_connections == 7
    assert warnings[0] == (
        "Config key 'maximumconnections' read as 'MaximumConnections' "
        "(keys match regardless of case, as in the Go tracker)"
    )


def test_keys_the_go_readme_promised_are_honoured_or_warned_about(tmp_path: Path) -> None:
    config = {
        "LetsEncryptDomains": ["yourdomain.com"],
        "RateLimitPerDay": 10000,
        "MaxConnections": 10,
        "AnonymizeIP": True,
        "GeoIPDatabase": ".setup/geoip/IP2LOCATION.BIN",
        "DataRetentionDays": 365,
        "MaxBatchSize": 500,
        "MaxBatchTime": "1s",
        "BatchFlushInterval": "100ms",
        "ConnectionTimeout": 30,
        "PruneOldData": True,
        "Notify": [
            {"Service": "clickhouse", "MaxBatchSize": 2000},
            {"Type": "cassandra", "Host": "localhost", "Port": 9042, "Keyspace": "tracker"},
        ],
    }
    settings, warnings = load(tmp_path, config)

    assert settings.domains == ("yourdomain.com",)
    assert settings.proxy_daily_limit == 10000
    assert settings.maximum_connections == 10
    assert settings.use_remove_ip is True
    assert settings.geoip_database == ".setup/geoip/IP2LOCATION.BIN"
    assert settings.data_retention_days == 365
    clickhouse = settings.notify[0]
    assert clickhouse.max_batch_size == 2000  # the entry's own value wins
    assert (clickhouse.max_batch_time, clickhouse.batch_flush_interval) == (1.0, 0.1)
    assert settings.notify[1].max_batch_size is None  # only ClickHouse entries inherit
    ignored = [w.split(" ignored")[0] for w in warnings if " ignored: " in w]
    assert ignored == [
        "Config key 'ConnectionTimeout'",
        "Config key 'PruneOldData'",
        "Config key 'Notify[1].Type'",
        "Config key 'Notify[1].Host'",
        "Config key 'Notify[1].Port'",
        "Config key 'Notify[1].Keyspace'",
    ]


def test_an_alias_yields_to_its_key_when_both_are_set(tmp_path: Path) -> None:
    settings, warnings = load(tmp_path, {"MaxConnections": 10, "MaximumConnections": 20})
    assert settings.maximum_connections == 20
    assert (
        "Config key 'MaxConnections' ignored: it is an alias of 'MaximumConnections', "
        "which is also set"
    ) in warnings


@pytest.mark.parametrize(
    ("file", "env", "overrides", "port", "data_dir"),
    [
        (None, {}, {}, 8080, "data"),
        ({"Port": 8001, "DataDir": "/file"}, {}, {}, 8001, "/file"),
        (
            {"Port": 8001, "DataDir": "/file"},
            {"TRACKER_PORT": "8002", "TRACKER_DATA_DIR": "/env"},
            {},
            8002,
            "/env",
        ),
        (
            {"Port": 8001, "DataDir": "/file"},
            {"TRACKER_PORT": "8002", "TRACKER_DATA_DIR": "/env"},
            {"Port": 8003, "DataDir": Path("/flag")},
            8003,
            "/flag",
        ),
        (None, {"TRACKER_PORT": "8002"}, {"Port": None, "DataDir": "/flag"}, 8002, "/flag"),
    ],
)
def test_precedence_is_defaults_then_file_then_environment_then_flags(
    tmp_path: Path,
    file: dict[str, object] | None,
    env: dict[str, str],
    overrides: dict[str, object],
    port: int,
    data_dir: str,
) -> None:
    path = (
        None if file is None else write(tmp_path, {**file, "Notify": [{"Service": "clickhouse"}]})
    )
    settings, _ = load_settings(path, env=env, overrides=overrides)
    assert (settings.port, settings.data_dir) == (port, Path(data_dir))


def test_an_unknown_flag_override_is_an_error() -> None:
    with pytest.raises(ConfigError, match="Unknown setting 'Prot'"):
        load_settings(None, env={}, overrides={"Prot": 1})


def test_fb_pixel_and_token_set_the_last_facebook_entry_and_the_environment_wins(
    tmp_path: Path,
) -> None:
    config = {"Notify": [{"Service": "clickhouse"}, {"Service": "facebook", "Context": "1"}]}
    settings, _ = load(
        tmp_path,
        config,
        env={"FB_PIXEL": "from-env"},
        overrides={"FbPixel": "from-flag", "FbToken": "token-from-flag"},
    )
    assert settings.notify[1].context == "from-env"
    assert settings.notify[1].key == Secret("token-from-flag")

    settings, _ = load(tmp_path, {"Notify": [{"Service": "clickhouse"}]}, env={"FB_PIXEL": "9"})
    assert settings.notify[-1] == Service("facebook", context="9")


def test_a_trailing_underscore_disables_a_service(tmp_path: Path) -> None:
    settings, warnings = load(
        tmp_path,
        {"Notify": [{"Service": "clickhouse_", "Context": "other"}, {"Service": "clikhouse"}]},
    )
    assert [s.implemented for s in settings.notify] == [False, False]
    assert settings.database == "sfpla"
    assert warnings[0].startswith("Notify[1] has Service 'clikhouse', which is not implemented")


def test_the_database_is_the_context_of_the_first_enabled_clickhouse_entry(tmp_path: Path) -> None:
    config = {
        "Notify": [
            {"Service": "clickhouse", "Context": "skipped", "Skip": True},
            {"Service": "clickhouse", "Context": "analytics"},
            {"Service": "clickhouse", "Context": "later"},
        ]
    }
    settings, _ = load(tmp_path, config)
    assert settings.database == "analytics"


def test_repr_of_settings_hides_every_secret(tmp_path: Path) -> None:
    config = {
        **GO_CONFIG,
        "IPHashSecret": "ip-hash-secret-value",
        "PrefixPrivateHash": "salt-value",
        "ClickHouseUrl": "http://default:url-password-value@localhost:8123",
    }
    settings, _ = load(tmp_path, config, env={"FB_TOKEN": "env-token-value"})

    text = repr(settings)
    for secret in (
        "ch-password-value",
        "fb-token-value",
        "nats-client.key",
        "s3-secret-value",
        "ip-hash-secret-value",
        "salt-value",
        "url-password-value",
        "env-token-value",
    ):
        assert secret not in text
    assert str(settings.ip_hash_secret) == "***"
    assert settings.ip_hash_secret == Secret("ip-hash-secret-value")


def test_a_missing_config_file_is_an_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(ConfigError) as caught:
        load_settings(missing, env={})
    assert str(caught.value) == f"Config file '{missing}' does not exist."


def test_invalid_json_is_an_error_with_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text('{\n    "Port": 8080\n    "Debug": true\n}\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    assert str(caught.value) == (
        f"Config file '{path}' is not valid JSON: Expecting ',' delimiter at line 3, column 5."
    )


def test_docs_configuration_md_is_generated_from_the_settings_table() -> None:
    assert DOCS.read_text() == render_markdown(), (
        "docs/configuration.md is stale: regenerate it with "
        "python -c \"from tracker.config import render_markdown; print(render_markdown(), end='')\""
        " > docs/configuration.md"
    )


def test_every_setting_has_help_and_appears_in_the_docs() -> None:
    docs = DOCS.read_text()
    for spec in SETTINGS_TABLE:
        assert spec.help.strip(), f"setting {spec.key} has no help text"
        assert f"| `{spec.key}` |" in docs, f"setting {spec.key} is not in the docs"


def test_every_setting_maps_onto_an_attribute_of_its_dataclass() -> None:
    classes: dict[str, type[Any]] = {
        "top": Settings,
        "service": Service,
        "filter": FilterEntry,
        "query": FilterQuery,
        "prune": PruneRule,
        "field": PruneField,
    }
    for scope, cls in classes.items():
        attrs = {s.attr for s in SETTINGS_TABLE if s.scope == scope and s.attr}
        assert attrs == {f.name for f in fields(cls)}, scope


def test_every_setting_type_has_a_docs_name_and_a_parser_that_names_the_key() -> None:
    for spec in SETTINGS_TABLE:
        kind = spec.type
        assert kind.name.strip(), f"setting {spec.key} has a type without a docs name"
        if isinstance(kind, ValueType):
            with pytest.raises(ConfigError) as caught:
                kind.parse(object(), Where(spec.key), spec.minimum, spec.maximum)
            assert str(caught.value).startswith(f"Config key '{spec.key}' has value "), spec.key
            assert ": expected " in str(caught.value), spec.key
        elif isinstance(kind, ObjectList):
            assert any(s.scope == kind.scope for s in SETTINGS_TABLE), kind.name


def test_a_key_written_twice_keeps_the_last_value_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"Port": 8001, "Port": 8002}')
    settings, warnings = load_settings(path, env={})
    assert settings.port == 8002
    assert "Config key 'Port' appears twice in one object; the last value is used" in warnings


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[1, 2]", "must hold a JSON object ({...}) at the top."),
        ('{"Port": NaN}', "is not valid JSON: NaN is not a JSON number."),
        ("", "is not valid JSON: Expecting value at line 1, column 1."),
    ],
)
def test_a_file_that_is_not_a_json_object_is_an_error(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = tmp_path / "config.json"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    assert str(caught.value) == f"Config file '{path}' {problem}"


def test_settings_are_frozen_and_hashable(tmp_path: Path) -> None:
    settings, _ = load(tmp_path, GO_CONFIG)
    with pytest.raises(AttributeError):
        settings.port = 1  # type: ignore[misc]
    assert hash(settings) == hash(load(tmp_path, GO_CONFIG)[0])


def test_the_built_in_clickhouse_entry_takes_the_top_level_batching_values() -> None:
    env = {"TRACKER_MAX_BATCH_SIZE": "500", "TRACKER_BATCHING_ENABLED": "false"}
    settings, _ = load_settings(None, env=env)
    assert settings.notify[0].max_batch_size == 500
    assert settings.notify[0].batching_enabled is False


def test_services_this_version_does_not_connect_yet_are_warned_about(tmp_path: Path) -> None:
    _, warnings = load(tmp_path, {"Notify": [{"Service": "clickhouse"}, {"Service": "cassandra"}]})

    assert any(
        "Service 'cassandra', which this version does not connect yet" in w for w in warnings
    )


def test_backend_entries_that_cannot_be_connected_are_named_and_the_others_are_not(
    tmp_path: Path,
) -> None:
    config = {
        "Notify": [
            {"Service": "facebook"},
            {"Service": "nats", "Hosts": ["nats://127.0.0.1:4222"]},
            {"Service": "duckdb"},
            {"Service": "facebook", "Context": "123", "Key": "token"},
        ],
        "Consume": [{"Service": "nats", "Hosts": ["nats://127.0.0.1:4222"]}],
    }
    _, warnings = load(tmp_path, config)

    unusable = [w for w in warnings if "left unconnected" in w]
    assert unusable == [
        "Notify[0] (facebook) needs Context (the pixel id) and Key (the access token), or "
        "FB_PIXEL/FB_TOKEN: it is left unconnected",
        "Notify[1] (nats) has no Context (the subject to publish to): it is left unconnected",
        "Consume[0] (nats) has no Filter entry with an Id (subject) and an Alias (log, count or "
        "update): it is left unconnected",
    ]
    assert not any("does not connect yet" in w for w in warnings)


def test_batch_flush_interval_numbers_are_milliseconds_as_in_the_go_config(
    tmp_path: Path,
) -> None:
    from tracker.runtime.policies import table_policies

    config = {
        "Notify": [{"Service": "clickhouse", "MaxBatchSize": 1000, "BatchFlushInterval": 1000}]
    }
    settings, warnings = load(tmp_path, config)
    assert settings.notify[0].batch_flush_interval == 1.0  # the Go config's 1000 is one second
    assert table_policies(settings)["events"].max_seconds == 1.0
    assert warnings == []
    settings, _ = load(tmp_path, {"BatchFlushInterval": 250})
    assert settings.batch_flush_interval == 0.25
    assert settings.notify[0].batch_flush_interval == 0.25  # the built-in entry inherits it
    settings, _ = load(tmp_path, {}, env={"TRACKER_BATCH_FLUSH_INTERVAL": "1500"})
    assert settings.batch_flush_interval == 1.5
    settings, _ = load(tmp_path, {"BatchFlushInterval": "2s"})  # a Go duration is a duration
    assert settings.batch_flush_interval == 2.0


def test_a_batch_age_over_five_minutes_is_warned_about_with_its_key(tmp_path: Path) -> None:
    config = {
        "MaxBatchTime": 600,  # a plain MaxBatchTime is seconds, as before
        "Notify": [{"Service": "clickhouse", "BatchFlushInterval": 1_000_000}],
        "BatchPolicies": {"mthreads": {"MaxBatchTime": "1h"}, "events": {"MaxBatchTime": "5m"}},
    }
    _, warnings = load(tmp_path, config)
    expected = "expected at most 300 s (a plain number is seconds in MaxBatchTime, milliseconds in BatchFlushInterval)"
    assert warnings == [
        f"Config key 'MaxBatchTime' is 600 s (10 min): rows may wait that long before they are written; {expected}",
        f"Config key 'Notify[0].BatchFlushInterval' is 1000 s (16 min 40 s): rows may wait that long before they are written; {expected}",
        f"Config key 'BatchPolicies.mthreads.MaxBatchTime' is 3600 s (1 h): rows may wait that long before they are written; {expected}",
    ]


def test_entries_the_go_tracker_skips_get_no_warnings(tmp_path: Path) -> None:
    config = {
        "Notify": [
            {"Service": "duckdb_", "Skip": True, "ProxyRealtimeStorageServiceName": "nowhere"},
            {"Service": "clickhouse"},
            {"Service": "clickhouse_", "Hosts": ["localhost:9000"], "Context": "not a name"},
            {"Service": "nats", "Skip": True},
            {"Service": "redis", "Skip": True},
        ],
        "Consume": [{"Service": "http_", "Note": "Not implemented"}],
    }
    settings, warnings = load(tmp_path, config)
    assert warnings == []
    assert settings.database == "sfpla"


def test_write_timeout_seconds_is_enforced_so_not_warned_about(tmp_path: Path) -> None:
    settings, warnings = load(tmp_path, {"WriteTimeoutSeconds": 20})
    assert (settings.write_timeout_seconds, warnings) == (20, [])

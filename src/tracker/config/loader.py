"""`load_settings`: config.json, then the environment, then flags, into one `Settings`.

Every key is looked up in `SETTINGS_TABLE`, so the table is the only list of what we read.
The layers are parsed one after another, each with the same type rules, and a later layer's
value replaces an earlier one's: built-in defaults < config.json < environment < flags.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from tracker.config.model import (
    IMPLEMENTED_SERVICES,
    NOT_YET_SERVED,
    Service,
    Settings,
)
from tracker.config.table import SAME, SETTINGS_TABLE, SettingSpec, specs
from tracker.config.types import (
    ALIAS,
    BATCH_AGES,
    IGNORED,
    SERVICES,
    UNUSED,
    NoValue,
    ObjectList,
)
from tracker.config.values import SPOOL_MODES, ConfigError, Secret, Where, describe_seconds

_BY_SCOPE: dict[str, dict[str, SettingSpec]] = {}
for _spec in SETTINGS_TABLE:
    _BY_SCOPE.setdefault(_spec.scope, {})[_spec.key] = _spec

_BATCH_ATTRS = (
    "batching_enabled",
    "max_batch_size",
    "max_batch_time",
    "batch_flush_interval",
    "enable_compression",
)
_DATABASE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
LONG_BATCH_AGE = 300.0  # seconds; a batch age above this is most likely a unit mistake


@dataclass
class _Context:
    warnings: list[str]
    top: dict[str, Any]  # the top-level values so far (services inherit the batching defaults)


def load_settings(
    path: Path | None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, object] | None = None,
) -> tuple[Settings, list[str]]:
    """Read settings; return them with the warnings (unknown or ignored keys and the like).

    Precedence, lowest first: built-in defaults < config.json (`path`) < environment (`env`,
    default `os.environ`) < flags (`overrides`, keyed by config key, e.g. `{"Port": 9000}`; a
    value of None means the flag was not given). The one exception is inherited from the Go
    tracker: `FB_PIXEL`/`FB_TOKEN` win over the `FbPixel`/`FbToken` flags.

    `path=None` means there is no config file: built-in defaults. A path that does not exist,
    a file that is not JSON, or a value of the wrong type raises `ConfigError`.
    """
    env = os.environ if env is None else env
    ctx = _Context(warnings=[], top={})
    for spec in specs("top"):
        if spec.attr:
            no_file = path is None and spec.no_file_default is not SAME
            ctx.top[spec.attr] = spec.no_file_default if no_file else spec.default

    services: dict[str, tuple[SettingSpec, Where, object]] = {}  # parsed last, see below
    if path is not None:
        for spec, where, raw in _match_keys(_read_file(path, ctx.warnings), "top", "", ctx):
            if spec.type is SERVICES:
                services[spec.attr] = (spec, where, raw)
            else:
                ctx.top[spec.attr] = _parse(spec, raw, where, ctx)

    for spec in specs("top"):
        if spec.env and env.get(spec.env, ""):
            where = Where(spec.key, env=spec.env, secret=spec.secret)
            ctx.top[spec.attr] = _parse(spec, env[spec.env], where, ctx)

    flagged: dict[str, object] = {}
    for key, raw in (overrides or {}).items():
        spec = _override_spec(key)
        if raw is None:
            continue
        where = Where(key, flag=True, secret=spec.secret)
        if spec.scope == "cli":
            flagged[spec.key] = _parse(spec, raw, where, ctx)
        elif spec.type is SERVICES:
            services[spec.attr] = (spec, where, raw)
        else:
            ctx.top[spec.attr] = _parse(spec, raw, where, ctx)

    # Services last: a ClickHouse entry takes the top-level batching values from every layer.
    for attr, (spec, where, raw) in services.items():
        ctx.top[attr] = _parse(spec, raw, where, ctx)
    if "notify" not in services:  # the built-in ClickHouse entry inherits them too
        batching = {attr: ctx.top[attr] for attr in _BATCH_ATTRS}
        ctx.top["notify"] = tuple(
            replace(s, **batching) if s.service == "clickhouse" else s for s in ctx.top["notify"]
        )

    pixel = env.get("FB_PIXEL") or flagged.get("FbPixel")
    token = env.get("FB_TOKEN") or flagged.get("FbToken")
    if isinstance(token, Secret):
        token = token.value
    ctx.top["notify"] = _apply_facebook(ctx.top["notify"], str(pixel or ""), str(token or ""))

    settings = Settings(**ctx.top)
    _check(settings, ctx.warnings)
    return settings, ctx.warnings


def _read_file(path: Path, warnings: list[str]) -> dict[str, object]:
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"Config file '{path}' does not exist.") from None
    except UnicodeDecodeError:
        raise ConfigError(f"Config file '{path}' is not UTF-8 text.") from None
    except OSError as exc:
        raise ConfigError(f"Config file '{path}' cannot be read: {exc.strerror}.") from None

    def pairs(items: list[tuple[str, object]]) -> dict[str, object]:
        obj: dict[str, object] = {}
        for key, value in items:
            if key in obj:
                warnings.append(
                    f"Config key '{key}' appears twice in one object; the last value is used"
                )
            obj[key] = value
        return obj

    def constant(name: str) -> object:
        raise ConfigError(f"Config file '{path}' is not valid JSON: {name} is not a JSON number.")

    try:
        data = json.loads(text, object_pairs_hook=pairs, parse_constant=constant)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"Config file '{path}' is not valid JSON: {exc.msg} at line {exc.lineno}, "
            f"column {exc.colno}."
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"Config file '{path}' must hold a JSON object ({{...}}) at the top.")
    return data


def _match_keys(
    obj: Mapping[str, object], scope: str, prefix: str, ctx: _Context
) -> list[tuple[SettingSpec, Where, object]]:
    """The known keys of one JSON object, each with where to report it; warns about the rest.

    As the Go decoder does, a key matches regardless of case (with a warning here) and `null`
    counts as absent. An alias yields to its target when both are set.
    """
    table = _BY_SCOPE[scope]
    folded = {key.lower(): spec for key, spec in table.items()}
    found: dict[str, tuple[SettingSpec, Where, object]] = {}
    aliases: list[tuple[SettingSpec, str, object]] = []
    for written, raw in obj.items():
        full = prefix + written
        spec = table.get(written)
        if spec is None and (spec := folded.get(written.lower())) is not None:
            ctx.warnings.append(
                f"Config key '{full}' read as '{prefix}{spec.key}' "
                "(keys match regardless of case, as in the Go tracker)"
            )
        if spec is None:
            ctx.warnings.append(f"Unknown config key '{full}' ignored")
            continue
        if spec.type is IGNORED:
            ctx.warnings.append(f"Config key '{full}' ignored: {spec.help.replace('`', chr(39))}")
            continue
        if spec.type is UNUSED or raw is None:
            continue
        if spec.type is ALIAS:
            aliases.append((spec, full, raw))
            continue
        if spec.key in found and written != spec.key:
            ctx.warnings.append(f"Config key '{full}' ignored: '{prefix}{spec.key}' is also set")
            continue
        found[spec.key] = (spec, Where(full, secret=spec.secret), raw)
    for spec, full, raw in aliases:
        target = table[str(spec.alias_of)]
        if target.key in found:
            ctx.warnings.append(
                f"Config key '{full}' ignored: it is an alias of '{prefix}{target.key}', "
                "which is also set"
            )
        else:
            found[target.key] = (target, Where(full, secret=target.secret), raw)
    return list(found.values())


def _read_object(obj: object, scope: str, where: Where, ctx: _Context) -> dict[str, Any]:
    """The attributes given in one nested JSON object (absent keys are left out)."""
    if not isinstance(obj, dict):
        where.fail(obj, "an object")
    attrs: dict[str, Any] = {}
    for spec, key_where, raw in _match_keys(obj, scope, where.path + ".", ctx):
        key_where = Where(key_where.path, where.env, where.flag, key_where.secret)
        attrs[spec.attr] = _parse(spec, raw, key_where, ctx)
    return attrs


def _object_list(raw: object, where: Where, item: str) -> list[object]:
    if not isinstance(raw, list | tuple):
        where.fail(raw, f"a list of objects, each {item}")
    return list(raw)


def _parse_objects(kind: ObjectList, raw: object, where: Where, ctx: _Context) -> tuple[Any, ...]:
    """A list of nested objects; a ClickHouse service takes the top-level batching values it lacks."""
    items = []
    for i, obj in enumerate(_object_list(raw, where, kind.item)):
        attrs = _read_object(obj, kind.scope, where.at(f"[{i}]"), ctx)
        if kind is SERVICES and attrs.get("service") == "clickhouse":
            for attr in _BATCH_ATTRS:
                if attrs.get(attr) is None:
                    attrs[attr] = ctx.top[attr]
        items.append(kind.cls(**{k: v for k, v in attrs.items() if v is not None}))
    return tuple(items)


def _parse(spec: SettingSpec, raw: object, where: Where, ctx: _Context) -> Any:
    """One value by its spec's type; `empty_means_default` turns 0 or "" into the default."""
    kind = spec.type
    if isinstance(kind, ObjectList):
        return _parse_objects(kind, raw, where, ctx)
    if isinstance(kind, NoValue):  # _match_keys and _override_spec never pass these on
        raise TypeError(f"Setting '{spec.key}' has no value of its own to parse")
    if spec.default is None and raw == "" and kind.empty_is_unset:
        return None  # an optional string left empty is unset
    value = kind.parse(raw, where, spec.minimum, spec.maximum)
    if kind in BATCH_AGES and isinstance(value, float):
        _warn_long_batch_age(where, value, ctx.warnings)
    if spec.empty_means_default and value in (0, ""):
        return spec.default
    return value


def _warn_long_batch_age(where: Where, seconds: float, warnings: list[str]) -> None:
    if seconds > LONG_BATCH_AGE:
        via = f" (environment variable {where.env})" if where.env else ""
        warnings.append(
            f"Config key '{where.path}'{via} is {describe_seconds(seconds)}: rows may wait that "
            f"long before they are written; expected at most {LONG_BATCH_AGE:g} s "
            "(a plain number is seconds in MaxBatchTime, milliseconds in BatchFlushInterval)"
        )


def _override_spec(key: str) -> SettingSpec:
    spec = _BY_SCOPE["top"].get(key) or _BY_SCOPE["cli"].get(key)
    if spec is not None and spec.type is ALIAS:
        spec = _BY_SCOPE["top"][str(spec.alias_of)]
    if spec is None or isinstance(spec.type, NoValue):
        raise ConfigError(
            f"Unknown setting '{key}' given as a command-line override: "
            "expected a config key such as 'Port' (see docs/configuration.md)."
        )
    return spec


def _apply_facebook(notify: tuple[Service, ...], pixel: str, token: str) -> tuple[Service, ...]:
    """FB_PIXEL/FB_TOKEN set the last `facebook` Notify entry, or add one (as in the Go tracker)."""
    if not pixel and not token:
        return notify
    changes: dict[str, Any] = {}
    if pixel:
        changes["context"] = pixel
    if token:
        changes["key"] = Secret(token)
    for i in reversed(range(len(notify))):
        if notify[i].service == "facebook":
            return (*notify[:i], replace(notify[i], **changes), *notify[i + 1 :])
    return (*notify, Service("facebook", **changes))


def _unusable(list_name: str, service: Service) -> str:
    """Why an enabled backend entry cannot be connected, or "" when it can."""
    facebook = service.service == "facebook" and list_name == "Notify"
    if facebook and not (service.context and service.key.value):
        return "needs Context (the pixel id) and Key (the access token), or FB_PIXEL/FB_TOKEN"
    if service.service == "nats":
        if not service.hosts:
            return "lists no Hosts (NATS URLs such as nats://127.0.0.1:4222)"
        if list_name == "Notify" and not service.context:
            return "has no Context (the subject to publish to)"
        if list_name == "Consume" and not any(f.id and f.alias for f in service.filter):
            return "has no Filter entry with an Id (subject) and an Alias (log, count or update)"
    return ""


def _tls_warnings(settings: Settings) -> list[str]:
    """What about the listeners is probably a mistake (the errors are in `_check`)."""
    if settings.use_local_tls and settings.use_acme:
        return ["UseLocalTLS and UseAcme are both true: the certificate files are served, no ACME"]
    if settings.use_local_tls or settings.use_acme:
        if settings.use_acme and settings.proxy_port not in ("", ":80"):
            return [
                f"UseAcme is true and ProxyPort is '{settings.proxy_port}': ACME servers send the "
                "http-01 challenge to port 80, so forward port 80 to it"
            ]
        return []
    unused = [
        k
        for k, v in (
            ("ProxyPort", settings.proxy_port),
            ("ProxyPortTLS", settings.proxy_port_tls),
            ("ProxyPortRedirect", settings.proxy_port_redirect),
        )
        if v
    ]
    if not unused:
        return []
    return [
        f"{', '.join(unused)} set but TLS is off (neither UseLocalTLS nor UseAcme is true): "
        "those listeners are not opened; every route is served on plain HTTP at Host:Port"
    ]


def _check(settings: Settings, warnings: list[str]) -> None:
    """Checks across keys: errors for what cannot work, warnings for what is probably a mistake."""
    if settings.spool_mode not in SPOOL_MODES:
        Where("SpoolMode").fail(settings.spool_mode, "durable or memory")
    if settings.use_local_tls:
        for key, value in (("TLSCert", settings.tls_cert), ("TLSKey", settings.tls_key)):
            if not value:
                raise ConfigError(
                    f"Config key '{key}' is empty: expected a PEM file, because UseLocalTLS is true.",
                    key=key,
                )
    if settings.use_acme and not settings.use_local_tls and not settings.domains:
        raise ConfigError(
            "Config key 'Domains' is empty: expected the host names to get certificates for, "
            "because UseAcme is true.",
            key="Domains",
        )
    if settings.url_filter:
        groups = re.compile(settings.url_filter).groups
        if settings.url_filter_match_group > groups:
            warnings.append(
                f"Config key 'UrlFilterMatchGroup' is {settings.url_filter_match_group} but "
                f"UrlFilter has {groups} groups: URLs that match keep nothing but their path"
            )
    warnings.extend(_tls_warnings(settings))
    if settings.ip_hash_secret is not None and len(settings.ip_hash_secret.value) < 16:
        warnings.append("Config key 'IPHashSecret' is shorter than 16 characters: easy to guess")
    if settings.dashboard_secret is not None and len(settings.dashboard_secret.value) < 16:
        warnings.append("Config key 'DashboardSecret' is shorter than 16 characters: easy to guess")
    for table, policy in settings.batch_policies:
        if policy.max_batch_time is not None:
            where = Where(f"BatchPolicies.{table}.MaxBatchTime")
            _warn_long_batch_age(where, policy.max_batch_time, warnings)

    for list_name, services in (("Notify", settings.notify), ("Consume", settings.consume)):
        for i, service in enumerate(services):
            entry = f"{list_name}[{i}]"
            if service.skip or service.service.endswith("_"):
                continue  # never read, as in the Go tracker: nothing in it can matter
            if not service.implemented:
                known = ", ".join(sorted(IMPLEMENTED_SERVICES))
                warnings.append(
                    f"{entry} has Service '{service.service}', which is not implemented: "
                    f"it is left unconnected (implemented: {known})"
                )
            elif service.service in NOT_YET_SERVED:
                warnings.append(
                    f"{entry} has Service '{service.service}', which this version does not "
                    "connect yet: it is ignored (see docs/differences.md, 'Not yet')"
                )
            target = service.proxy_realtime_storage_service_name
            if target and target != "clickhouse" and service.service == "duckdb":
                warnings.append(
                    f"{entry}.ProxyRealtimeStorageServiceName is '{target}': only 'clickhouse' "
                    "can be the realtime store here, so it has no effect"
                )
            problem = _unusable(list_name, service)
            if problem:
                warnings.append(f"{entry} ({service.service}) {problem}: it is left unconnected")
            if list_name != "Notify" or service.service != "clickhouse":
                continue
            if not _DATABASE_NAME.fullmatch(service.context or "sfpla"):
                raise ConfigError(
                    f"Config key '{entry}.Context' has value '{service.context}': expected a "
                    "ClickHouse database name (letters, digits and underscores, not starting "
                    "with a digit).",
                    key=f"{entry}.Context",
                )
            if service.hosts and settings.clickhouse_url is None:
                warnings.append(
                    f"{entry} lists ClickHouse Hosts {list(service.hosts)} but ClickHouseUrl is "
                    f"not set: events go to the embedded chDB in "
                    f"'{settings.data_dir / 'clickhouse'}'. Set ClickHouseUrl "
                    "(e.g. http://host:8123) to write to that server"
                )
    if settings.clickhouse is None:
        warnings.append(
            "No clickhouse Notify entry is enabled: events are still stored in ClickHouse "
            "(embedded under DataDir, or ClickHouseUrl), with the default batching"
        )

"""Setting types: each one says how its values are read, where they may come from, and its name.

Every `SettingSpec` in `SETTINGS_TABLE` holds one of the objects below as its `type`; the loader
and the docs ask the object, never a name, so adding a type is one definition here.

    ValueType   a value read by its own parser: scalars and lists of scalars
    ObjectList  a list of nested objects (`Notify`, `Prune`, ...), read key by key from the table
    NoValue     a key whose own value is not read: an alias, an ignored or an unused key
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tracker.config.model import (
    BatchPolicyConfig,
    FilterEntry,
    FilterQuery,
    PruneField,
    PruneRule,
    Service,
)
from tracker.config.values import (
    INT64_MAX,
    INT64_MIN,
    UINT64_MAX,
    Where,
    parse_bool,
    parse_duration,
    parse_float,
    parse_int,
    parse_int64_list,
    parse_millis_duration,
    parse_network_list,
    parse_path,
    parse_port,
    parse_regex,
    parse_secret,
    parse_str,
    parse_str_list,
    parse_url,
)

# (raw value, where it came from, the setting's minimum, its maximum) -> the typed value; raises
# ConfigError naming the key, the value and what was expected.
Parse = Callable[[object, Where, int | None, int | None], object]


@dataclass(frozen=True)
class ValueType:
    """A type whose values one parser reads, the same way from every source."""

    name: str  # the docs' Type column
    parse: Parse
    from_env: bool = False  # top-level keys of this type get a TRACKER_* environment variable
    secret: bool = False  # messages show '***' instead of the value
    empty_is_unset: bool = False  # "" leaves a setting whose default is None unset


@dataclass(frozen=True)
class ObjectList:
    """A JSON list of objects whose keys are the `scope` entries of `SETTINGS_TABLE`."""

    name: str  # the docs' Type column
    scope: str
    cls: type[Any]  # the frozen dataclass each object becomes
    item: str  # what one element is, for messages: "a Prune object"


@dataclass(frozen=True)
class NoValue:
    """A key that is accepted but whose own value is not read."""

    name: str  # the docs' Type column


SettingType = ValueType | ObjectList | NoValue


def _unbounded(parse: Callable[[object, Where], object]) -> Parse:
    """The parser of a type that has no minimum or maximum."""
    return lambda raw, where, minimum, maximum: parse(raw, where)


def _whole(lo: int, hi: int) -> Parse:
    """Whole numbers within the setting's own bounds, else within the type's [lo, hi]."""

    def parse(raw: object, where: Where, minimum: int | None, maximum: int | None) -> int:
        low = lo if minimum is None else minimum
        high = hi if maximum is None else maximum
        return parse_int(raw, where, low, high)

    return parse


STRATEGIES = ("immediate", "time", "size", "hybrid", "memory", "adaptive")
_POLICY_KEYS = frozenset(
    {
        "Strategy",
        "MaxBatchSize",
        "MaxBatchTime",
        "MaxMemoryMB",
        "Retries",
        "MinBatchSize",
        "TargetLatencyMs",
    }
)


def parse_policies(raw: object, where: Where) -> tuple[tuple[str, BatchPolicyConfig], ...]:
    """`BatchPolicies`: {table: {Strategy, MaxBatchSize, MaxBatchTime, MaxMemoryMB, ...}}."""
    if not isinstance(raw, dict):
        where.fail(raw, "an object of table name → policy")
    out: list[tuple[str, BatchPolicyConfig]] = []
    for table, body in raw.items():
        at = where.at(f".{table}")
        if not isinstance(body, dict):
            at.fail(body, 'an object such as {"Strategy": "hybrid", "MaxBatchSize": 1000}')
        for key in body:
            if key not in _POLICY_KEYS:
                at.at(f".{key}").fail(body[key], "one of " + ", ".join(sorted(_POLICY_KEYS)))
        strategy = body.get("Strategy")
        if strategy is not None and strategy not in STRATEGIES:
            at.at(".Strategy").fail(strategy, "one of " + ", ".join(STRATEGIES))

        def number(key: str, whole: bool, body: dict[str, Any] = body, at: Where = at) -> Any:
            value = body.get(key)
            if value is None:
                return None
            if whole:
                return parse_int(value, at.at(f".{key}"), 1, INT64_MAX)
            return parse_float(value, at.at(f".{key}"), 0)

        seconds = body.get("MaxBatchTime")
        out.append(
            (
                str(table),
                BatchPolicyConfig(
                    strategy=strategy,
                    max_batch_size=number("MaxBatchSize", True),
                    max_batch_time=parse_duration(seconds, at.at(".MaxBatchTime"))
                    if seconds is not None
                    else None,
                    max_memory_mb=number("MaxMemoryMB", False),
                    retries=number("Retries", True),
                    min_batch_size=number("MinBatchSize", True),
                    target_latency_ms=number("TargetLatencyMs", False),
                ),
            )
        )
    return tuple(out)


# Scalars and lists of scalars; the ones with `from_env` can be set by the environment.
BOOL = ValueType("bool", _unbounded(parse_bool), from_env=True)
INT = ValueType("int", _whole(INT64_MIN, INT64_MAX), from_env=True)
INT64 = ValueType("int64", _whole(INT64_MIN, INT64_MAX), from_env=True)
UINT64 = ValueType("uint64", _whole(0, UINT64_MAX), from_env=True)
FLOAT = ValueType(  # a setting's maximum does not apply to it
    "number", lambda raw, where, minimum, maximum: parse_float(raw, where, minimum), from_env=True
)
STRING = ValueType("string", _unbounded(parse_str), from_env=True, empty_is_unset=True)
SECRET = ValueType(
    "string (secret)", _unbounded(parse_secret), from_env=True, secret=True, empty_is_unset=True
)
PORT = ValueType('string `":port"`', _unbounded(parse_port), from_env=True)
REGEX = ValueType("regex string", _unbounded(parse_regex), from_env=True)
DURATION = ValueType(
    'duration (`"2s"`, `"500ms"`, `"1m"` or seconds)', _unbounded(parse_duration), from_env=True
)
MILLIS = ValueType(
    'duration (`"2s"`, `"500ms"`, `"1m"` or milliseconds)',
    _unbounded(parse_millis_duration),
    from_env=True,
)
BATCH_AGES = (DURATION, MILLIS)  # the types of batch age settings (a long one is warned about)
PATH = ValueType("path", _unbounded(parse_path), from_env=True)
URL = ValueType("URL", _unbounded(parse_url), from_env=True, empty_is_unset=True)
STRINGS = ValueType("[string]", _unbounded(parse_str_list), from_env=True)
NETWORKS = ValueType("[string] (IP or CIDR)", _unbounded(parse_network_list), from_env=True)
INT64S = ValueType("[int64]", _unbounded(parse_int64_list))
POLICIES = ValueType("{table: Policy}", _unbounded(parse_policies))

# Nested objects: config.json (or a flag override) only.
SERVICES = ObjectList("[Service]", "service", Service, "a service (with a 'Service' key)")
FILTERS = ObjectList("[Filter]", "filter", FilterEntry, "a Filter object")
QUERIES = ObjectList("[Query]", "query", FilterQuery, "a Query object")
PRUNES = ObjectList("[Prune]", "prune", PruneRule, "a Prune object")
FIELDS = ObjectList("[Field]", "field", PruneField, "a Field object")

ALIAS = NoValue("alias")  # read as the key in `SettingSpec.alias_of`
IGNORED = NoValue("ignored")  # accepted with a warning that says why it has no effect
UNUSED = NoValue("unused")  # accepted silently, as the Go tracker accepted it

"""Coercing loose values to ClickHouse column types, so no row can poison a batch.

The Go tracker bound request values straight into typed columns; one number in a String column or
one array in a JSON column made the driver reject the whole batch. Here every value is converted
to its column's type before it is queued, and a value that cannot be converted is left out, so the
column takes its schema default. The output is what ``orjson`` encodes as one ``JSONEachRow`` line.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import cache, lru_cache
from typing import Any

import orjson

from tracker.normalise.ids import parse_uuid
from tracker.schema.model import Table

Missing = object()  # returned when a value cannot be converted: leave the column to its default
Coercer = Callable[[Any], Any]

INT_RANGES = {
    "Int8": (-(2**7), 2**7 - 1),
    "Int16": (-(2**15), 2**15 - 1),
    "Int32": (-(2**31), 2**31 - 1),
    "Int64": (-(2**63), 2**63 - 1),
    "UInt8": (0, 2**8 - 1),
    "UInt16": (0, 2**16 - 1),
    "UInt32": (0, 2**32 - 1),
    "UInt64": (0, 2**64 - 1),
}


def to_string(value: Any) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return Missing


def to_uuid(value: Any) -> Any:
    parsed = parse_uuid(value)  # its canonical text, which the column takes
    return parsed if parsed is not None else Missing


def _int_coercer(type_name: str) -> Coercer:
    low, high = INT_RANGES[type_name]

    def coerce(value: Any) -> Any:
        if type(value) is int:  # the common case first (`bool` is a subclass, handled below)
            return value if low <= value <= high else Missing
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, float):
            if not math.isfinite(value):
                return Missing
            value = int(value)
        elif isinstance(value, str):
            text = value.strip()
            try:
                value = int(text)
            except ValueError:
                try:
                    number = float(text)
                except ValueError:
                    return Missing
                if not math.isfinite(number):
                    return Missing
                value = int(number)
        if isinstance(value, int) and low <= value <= high:
            return value
        return Missing

    return coerce


def to_float(value: Any) -> Any:
    if type(value) is float:  # the common case first
        return value if math.isfinite(value) else Missing
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return Missing
    else:
        return Missing
    return number if math.isfinite(number) else Missing


def to_bool(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "1", "yes"):
            return True
        if text in ("false", "0", "no", ""):
            return False
    return Missing


def to_json_object(value: Any) -> Any:
    """The ClickHouse JSON type takes a top-level object only; anything else becomes ``{}``."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def parse_time(value: Any) -> datetime | None:
    """RFC 3339 (any case), ``YYYY-MM-DD HH:MM:SS[.fff]``, or epoch seconds as a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        if not math.isfinite(value) or not 0 <= value < 32503680000:
            return None
        return datetime.fromtimestamp(value, UTC)
    if not isinstance(value, str):
        return None
    text = value.strip().upper()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


@lru_cache(maxsize=64)
def format_time(moment: datetime) -> str:
    """DateTime64(3) text in UTC (sessions run with session_timezone = UTC).

    Memoised: every row of an event carries the same ``created_at``; ``isoformat`` is ~10x
    cheaper than ``strftime`` and gives the same text for the years we store (1970 onwards)."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "milliseconds")


def to_datetime(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_time(value)
    parsed = parse_time(value)
    if parsed is None or parsed.year < 1970:
        return Missing
    return format_time(parsed)


def to_date(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).date().isoformat()
    if isinstance(value, str) and len(value) <= _DATE_TEXT_CACHE_CHARS:
        return _date_of_text(value)
    return _date_of(value)


def _date_of(value: Any) -> Any:
    parsed = parse_time(value)
    return parsed.date().isoformat() if parsed is not None and parsed.year >= 1970 else Missing


# Memoised for short texts: every client event's `dailies` row carries the day as text, and
# parsing it back costs a few µs. The length bound keeps client-sent text from filling memory.
_DATE_TEXT_CACHE_CHARS = 40
_date_of_text = lru_cache(maxsize=256)(_date_of)


def _array(item: Coercer, split_strings: bool) -> Coercer:
    def coerce(value: Any) -> Any:
        if isinstance(value, str) and split_strings:
            value = [part for part in (p.strip() for p in value.split(",")) if part]
        if not isinstance(value, list):
            return Missing
        out = []
        for element in value:
            converted = item(element)
            if converted is not Missing:
                out.append(converted)
        return out

    return coerce


@cache
def coercer_for_type(type_text: str) -> Coercer:
    text = type_text.strip()
    if text.startswith("LowCardinality(") and text.endswith(")"):
        return coercer_for_type(text[len("LowCardinality(") : -1])
    if text.startswith("Nullable(") and text.endswith(")"):
        return coercer_for_type(text[len("Nullable(") : -1])
    if text.startswith("Array(") and text.endswith(")"):
        inner = text[len("Array(") : -1]
        return _array(coercer_for_type(inner), split_strings=inner == "String")
    if text == "String":
        return to_string
    if text == "UUID":
        return to_uuid
    if text in INT_RANGES:
        return _int_coercer(text)
    if text.startswith("Float"):
        return to_float
    if text == "Bool":
        return to_bool
    if text == "JSON" or text.startswith("JSON("):
        return to_json_object
    if text.startswith("DateTime"):
        return to_datetime
    if text == "Date":
        return to_date
    raise ValueError(f"no coercion for ClickHouse type {type_text!r}")


_COERCERS: dict[int, tuple[Table, dict[str, Coercer]]] = {}


def coercers(table: Table) -> dict[str, Coercer]:
    """The coercer of each insertable column, cached by identity: a cache keyed by the table
    itself would hash the frozen `Table` and all of its columns on every row (~10 µs each)."""
    entry = _COERCERS.get(id(table))
    if entry is None or entry[0] is not table:
        built = {column.name: coercer_for_type(column.type) for column in table.insertable()}
        entry = _COERCERS[id(table)] = (table, built)
    return entry[1]


def coerce_row(table: Table, values: Mapping[str, Any]) -> dict[str, Any]:
    """The row for ``table`` made of the keys of ``values`` that name one of its columns.

    Walks whichever is shorter, the values or the columns (an event row has ~30 values for 61
    columns, a messaging row ~20 for 135); the keys' order does not matter to JSONEachRow."""
    table_coercers = coercers(table)
    if len(values) < len(table_coercers):
        return coerce_values(table_coercers, values)
    return coerce_values(table_coercers, values, walk_columns=True)


def coerce_values(
    column_coercers: Mapping[str, Coercer],
    values: Mapping[str, Any],
    *,
    walk_columns: bool = False,
) -> dict[str, Any]:
    """The values whose key has a coercer, each coerced; those that cannot be are left out."""
    row: dict[str, Any] = {}
    pairs = (
        ((name, values[name]) for name in column_coercers if name in values)
        if walk_columns
        else values.items()
    )
    for name, value in pairs:
        coerce = column_coercers.get(name)
        if coerce is None or value is None:
            continue
        if coerce is to_string and type(value) is str:
            row[name] = value  # most values: what `to_string` returns, without the call
            continue
        converted = coerce(value)
        if converted is not Missing:
            row[name] = converted
    return row

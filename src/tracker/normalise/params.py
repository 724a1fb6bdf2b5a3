"""`events.params`: which keys go in, and how string values are typed.

The Go tracker built params differently per transport and lost data on each (POST custom keys, WS
nested params; see docs/differences.md). We use one rule for every transport: the custom top-level
keys plus the nested `params` object (nested keys win), minus the excluded keys. Exclusion is
case-insensitive, so a WebSocket `Email` is dropped like a REST `email` (Go lowercased the WS
snapshot, which had the same effect).

Value conversion is Go's (trimmed strings; booleans, numbers, dates and JSON text parsed) with
its bugs fixed:

* integer strings are not multiplied by 1000 (Go turned "epoch seconds" into ms, and any other
  number in that range with them);
* `nan`, `inf`, `infinity` stay strings (Go made them floats and then wrote `{}` for the whole
  object); so do numbers too large for a float, and integers outside int64, which Go turned into
  lossy floats;
* the non-RFC 3339 date layouts give epoch ms like RFC 3339 does (Go parsed them and then stored
  the string); RFC 3339 also accepts a lowercase `t`/`z` (lowercased input is common) and a
  space instead of `T`;
* arrays stay JSON arrays, converted element-wise (Go rendered them as `[a b]` strings), and `None`
  is dropped from objects (Go wrote `<nil>`).

Date parsing is UTC throughout and uses integer arithmetic, so results are exact to the ms
(fractional seconds are truncated, as Go's `UnixMilli` does).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import orjson

__all__ = ["EXCLUDED_KEYS", "build_params", "cap_keys", "convert_value"]

# The keys Go deleted from params (de-identification and column duplicates), in Go's order.
# fmt: off
EXCLUDED_KEYS: frozenset[str] = frozenset((
    "uri", "hhash", "iphash", "cell", "chash", "email", "ehash", "uname", "acct", "first", "lat",
    "lon", "w", "h", "params", "eid", "tr", "time", "vid", "did", "sid", "app", "rel", "cflags",
    "created", "uid", "last", "url", "ip", "latlon", "ptyp", "bhash", "auth_id", "duration", "xid",
    "split", "etyp", "ver", "sink", "score", "gaid", "idfa", "msid", "fbid", "country", "region",
    "city", "zip", "culture", "ref", "aff", "arm_id", "mcid", "browser", "device", "os", "tz",
    "vp", "targets", "rid", "relation", "rcode", "ename", "source", "content", "medium",
    "campaign", "term", "v1",
))
# fmt: on

# Deeper containers are dropped: nobody nests params this deep on purpose, and orjson refuses to
# encode more than 254 levels anyway.
_MAX_DEPTH = 64
_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1

_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# RFC 3339 (`T` or a space, any case; `Z` or an offset) and the naive ISO layouts, in one pass.
_ISO_DATE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
    r"(?:[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))?)?"
)
_SLASH_DATE = re.compile(r"([0-9]{2})/([0-9]{2})/([0-9]{4})")
_DAYS_IN_MONTH = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _epoch_ms(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> int | None:
    """Epoch ms of a UTC wall-clock time, or None when the fields do not make a valid time."""
    if year < 1 or not 1 <= month <= 12 or day < 1 or hour > 23 or minute > 59 or second > 59:
        return None
    leap = month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    if day > _DAYS_IN_MONTH[month] + leap:
        return None
    # Days since 1970-01-01 (H. Hinnant's days_from_civil): integer-only and exact.
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (month - 3 if month > 2 else month + 9) + 2) // 5 + day - 1
    days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
    return ((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000


def _parse_date(s: str) -> int | None:
    """Epoch ms (UTC) for RFC 3339 and Go's five other layouts (`YYYY-MM-DD HH:MM:SS`,
    `YYYY-MM-DDTHH:MM:SS`, `YYYY-MM-DD`, `MM/DD/YYYY`, `DD/MM/YYYY`); None otherwise.

    `s` is trimmed and at least 10 characters long.

    As in Go, fractional seconds are accepted after the seconds field of every layout.
    """
    if s[4] == "-":
        m = _ISO_DATE.fullmatch(s)
        if m is None:
            return None
        year, month, day, hour, minute, second, frac, sign, off_h, off_m = m.groups()
        if hour is None:
            return _epoch_ms(int(year), int(month), int(day))
        ms = _epoch_ms(int(year), int(month), int(day), int(hour), int(minute), int(second))
        if ms is None:
            return None
        if frac:
            ms += int((frac + "00")[:3])
        if sign:
            if int(off_h) > 23 or int(off_m) > 59:
                return None
            offset = (int(off_h) * 60 + int(off_m)) * 60_000
            ms += -offset if sign == "+" else offset
        return ms
    if s[2] == "/" and (m := _SLASH_DATE.fullmatch(s)) is not None:
        first, second_field, year_field = int(m[1]), int(m[2]), int(m[3])
        # MM/DD/YYYY first, as Go tries it first; DD/MM/YYYY only when that fails (day > 12).
        ms = _epoch_ms(year_field, first, second_field)
        return ms if ms is not None else _epoch_ms(year_field, second_field, first)
    return None


def _convert_string(raw: str, depth: int) -> object:
    s = raw.strip()
    if not s:
        return s
    head = s[0]
    if head in "0123456789+-.":
        # Dates first: the shapes cannot be numbers, and this spares dates the number regexes.
        if len(s) >= 10 and (s[4] == "-" or s[2] == "/"):
            ms = _parse_date(s)
            if ms is not None:
                return ms
        if len(s) <= 20 and _INT.fullmatch(s) is not None:  # longer cannot fit int64 anyway
            number = int(s)
            return number if _INT64_MIN <= number <= _INT64_MAX else s
        if len(s) <= 400 and _FLOAT.fullmatch(s) is not None:
            real = float(s)
            return real if math.isfinite(real) else s
        return s
    if head in "{[":
        if s[-1] == ("}" if head == "{" else "]"):
            try:
                parsed = orjson.loads(s)
            except ValueError:  # orjson.JSONDecodeError, also for lone surrogates
                return s
            return _convert(parsed, depth)
        return s
    if len(s) in (4, 5):
        lowered = s.lower()
        if lowered == "true":
            return True
        if lowered == "false":
            return False
    return s


def _convert_object(obj: Mapping[object, object], depth: int) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in obj.items():
        converted = _convert(value, depth + 1)
        if converted is not None:
            out[key if isinstance(key, str) else str(key)] = converted
    return out


def _convert(value: object, depth: int) -> object:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return _convert_string(value, depth)
    if depth >= _MAX_DEPTH:
        return None
    if isinstance(value, Mapping):
        return _convert_object(value, depth)
    if isinstance(value, list | tuple):
        return [_convert(item, depth + 1) for item in value]
    return str(value)


def convert_value(v: object) -> object:
    """Type one params value: see the module docstring. `None` stays `None` (dropped by callers)."""
    return _convert(v, 0)


def _nested_object(nested: object) -> Mapping[object, object] | None:
    if isinstance(nested, Mapping):
        return nested
    if isinstance(nested, str | bytes):
        try:
            parsed = orjson.loads(nested)
        except ValueError:
            return None
        return parsed if isinstance(parsed, dict) else None  # "null" parses to None: absent
    return None


def build_params(top_level: Mapping[str, object], nested: object) -> dict[str, object]:
    """The `events.params` object for one event.

    `top_level` is the event's value map; `nested` its `params` value (an object, or a string
    holding a JSON object; anything else is ignored). Custom top-level keys and the nested keys
    are merged (nested wins), excluded keys are removed from the top level of the result, and
    every value is converted with `convert_value`. Returns `{}` when nothing is left.
    """
    # `key in EXCLUDED_KEYS` first: value-map keys are already lowercase, so most excluded keys
    # are found without building a lowercased copy (the lowercase test alone decides the rest).
    merged: dict[object, object] = {
        key: value
        for key, value in top_level.items()
        if key not in EXCLUDED_KEYS and key.lower() not in EXCLUDED_KEYS
    }
    inner = _nested_object(nested)
    if inner:
        for key, value in inner.items():
            if not (isinstance(key, str) and key.lower() in EXCLUDED_KEYS):
                merged[key] = value
    return _convert_object(merged, 0)


def cap_keys(obj: dict[str, Any], limit: int) -> int:
    """Keep the first ``limit`` keys of ``obj`` and drop the rest in place; return how many went.

    Every key counts, at every depth and inside arrays (each becomes a path in the store's JSON
    column), taken depth first in the order the client sent them. Bounds what one event can add
    to the store (`MaxParamKeys`); the store's JSON type bounds what all events add together.
    """
    if len(obj) <= limit and not any(isinstance(v, dict | list) for v in obj.values()):
        return 0
    budget = [limit]
    return _cap_object(obj, budget)


def _cap_object(obj: dict[str, Any], budget: list[int]) -> int:
    dropped = 0
    for key in list(obj):
        if budget[0] <= 0:
            dropped += 1 + _count_keys(obj.pop(key))
            continue
        budget[0] -= 1
        dropped += _cap_value(obj[key], budget)
    return dropped


def _cap_value(value: object, budget: list[int]) -> int:
    if isinstance(value, dict):
        return _cap_object(value, budget)
    if isinstance(value, list):
        return sum(_cap_value(item, budget) for item in value)
    return 0


def _count_keys(value: object) -> int:
    if isinstance(value, dict):
        return len(value) + sum(_count_keys(v) for v in value.values())
    if isinstance(value, list):
        return sum(_count_keys(item) for item in value)
    return 0

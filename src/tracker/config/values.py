"""Scalar value parsers, shared by config.json, the environment and flags (`types.py` pairs them
with the setting types).

A parser takes the raw value and a `Where` (which key, from which source) and returns the typed
value or raises `ConfigError` with one message shape: the key, the bad value, what was expected.
Values from the environment are text, so `Where.textual` lets "true" or "9000" through there
while config.json must hold a real JSON bool or number, as the Go tracker's decoder required.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

from tracker.errors import TrackerError

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
UINT64_MAX = 2**64 - 1


class ConfigError(TrackerError):
    """A config.json, environment or flag value we cannot use; the message says which and why."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


@dataclass(frozen=True, repr=False)
class Secret:
    """A value that must not reach logs: `repr` and `str` show `***`; `.value` holds the text."""

    value: str

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __bool__(self) -> bool:
        return bool(self.value)


NO_SECRET = Secret("")  # the default of secret settings that are absent


def show(value: object, secret: bool = False) -> str:
    """A bad value as it appears in a message: strings quoted, JSON spellings for the rest."""
    if secret:
        return "'***'"
    if isinstance(value, str):
        text = value if len(value) <= 80 else value[:77] + "..."
        return repr(text)
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | float):
        return repr(value)
    try:
        text = json.dumps(value, default=str)
    except ValueError:
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


@dataclass(frozen=True)
class Where:
    """The key being parsed (a path such as `Notify[0].MaxBatchSize`) and where its value came from."""

    path: str
    env: str | None = None  # the environment variable, when the value came from there
    flag: bool = False  # the value came from a command-line flag (load_settings' overrides)
    secret: bool = False

    def at(self, suffix: str) -> Where:
        return Where(self.path + suffix, self.env, self.flag, self.secret)

    def textual(self, raw: object) -> bool:
        """Whether `raw` is text to be read as a number or bool (environment and flag strings)."""
        return isinstance(raw, str) and (self.env is not None or self.flag)

    def fail(self, value: object, expected: str) -> NoReturn:
        if self.env is not None:
            via = f" (environment variable {self.env})"
        elif self.flag:
            via = " (command-line flag)"
        else:
            via = ""
        raise ConfigError(
            f"Config key '{self.path}'{via} has value {show(value, self.secret)}: expected {expected}.",
            key=self.path,
        )


def parse_bool(raw: object, where: Where) -> bool:
    if isinstance(raw, bool):
        return raw
    if where.textual(raw) and str(raw).strip().lower() in ("true", "false"):
        return str(raw).strip().lower() == "true"
    where.fail(raw, "true or false")


def parse_int(raw: object, where: Where, lo: int | None = None, hi: int | None = None) -> int:
    value: int | None = None
    if isinstance(raw, bool):
        value = None
    elif isinstance(raw, int):
        value = raw
    elif isinstance(raw, float) and math.isfinite(raw) and raw.is_integer():
        value = int(raw)
    elif where.textual(raw) and re.fullmatch(r"[+-]?\d+", str(raw).strip()):
        value = int(str(raw).strip())
    if value is None:
        where.fail(raw, "a whole number")
    if lo is not None and value < lo:
        where.fail(raw, f"a whole number of at least {lo}")
    if hi is not None and value > hi:
        where.fail(raw, f"a whole number of at most {hi}")
    return value


def parse_float(raw: object, where: Where, lo: float | None = None) -> float:
    value: float | None = None
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        value = float(raw)
    elif where.textual(raw):
        try:
            value = float(str(raw).strip())
        except ValueError:
            value = None
    if value is None or not math.isfinite(value):
        where.fail(raw, "a number")
    if lo is not None and value < lo:
        where.fail(raw, f"a number of at least {lo:g}")
    return value


def parse_str(raw: object, where: Where) -> str:
    if isinstance(raw, str):
        return raw
    where.fail(raw, "a string")


def parse_secret(raw: object, where: Where) -> Secret:
    if isinstance(raw, str):
        return Secret(raw)
    where.fail(raw, "a string")


_PORT = re.compile(r":(\d{1,5})")


def parse_port(raw: object, where: Where) -> str:
    """A Go listen address as the Go tracker's config writes it: ':8443', or '' for unset."""
    if isinstance(raw, str):
        match = _PORT.fullmatch(raw)
        if raw == "" or (match and 1 <= int(match.group(1)) <= 65535):
            return raw
    where.fail(raw, "a port written as ':<1-65535>' (for example ':8443') or an empty string")


def parse_regex(raw: object, where: Where) -> str:
    """A pattern that Python's `re` compiles; kept as text (an empty string means off)."""
    if not isinstance(raw, str):
        where.fail(raw, "a regular expression")
    try:
        re.compile(raw)
    except re.error as exc:
        where.fail(raw, f"a regular expression ({exc})")
    return raw


_DURATION_PART = r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)"
_DURATION = re.compile(f"(?:{_DURATION_PART})+")
_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


def parse_duration(raw: object, where: Where, unit: float = 1.0) -> float:
    """Seconds, from a Go duration string ('2s', '500ms', '1m30s') or a plain number of
    ``unit`` seconds (1 for seconds, 0.001 for milliseconds)."""
    plain = "seconds" if unit == 1.0 else "milliseconds"
    expected = f"a duration such as '2s', '500ms' or '1m', or a number of {plain}"
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        if math.isfinite(raw) and raw >= 0:
            return float(raw) * unit
        where.fail(raw, expected)
    if isinstance(raw, str):
        text = raw.strip()
        if re.fullmatch(r"\d+(?:\.\d*)?|\.\d+", text):
            return float(text) * unit
        if _DURATION.fullmatch(text):
            return sum(float(n) * _UNIT_SECONDS[u] for n, u in re.findall(_DURATION_PART, text))
    where.fail(raw, expected)


def parse_millis_duration(raw: object, where: Where) -> float:
    """Seconds, from a Go duration string or a plain number of milliseconds (the unit of the
    Go tracker's `BatchFlushInterval`: its shipped config has 1000)."""
    return parse_duration(raw, where, unit=0.001)


def describe_seconds(seconds: float) -> str:
    """'1000 s (16 min 40 s)': a duration as a message shows it."""
    shown = f"{seconds:g} s"
    if seconds >= 60:
        minutes, rest = divmod(round(seconds), 60)
        hours, minutes = divmod(minutes, 60)
        parts = [f"{hours} h"] if hours else []
        parts += [f"{minutes} min"] if minutes else []
        parts += [f"{rest} s"] if rest else []
        shown += f" ({' '.join(parts)})"
    return shown


def parse_path(raw: object, where: Where) -> Path:
    if isinstance(raw, Path):
        return raw
    if isinstance(raw, str) and raw.strip():
        return Path(raw)
    where.fail(raw, "a path")


def _redact_url(text: str) -> str:
    return re.sub(r"(//[^/:@]*:)[^/@]*@", r"\1***@", text)


def parse_url(raw: object, where: Where) -> str:
    """An http(s) URL for the ClickHouse server; any password in it is hidden in messages."""
    expected = "an http:// or https:// URL such as 'http://user:password@localhost:8123'"
    if not isinstance(raw, str):
        where.fail(raw, expected)
    try:
        parts = urlsplit(raw)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
        _ = parts.port  # raises ValueError for a port that is not a number or out of range
    except ValueError:
        ok = False
    if not ok:
        where.fail(_redact_url(raw), expected)
    return raw


def parse_str_list(raw: object, where: Where) -> tuple[str, ...]:
    """A JSON list of strings; from the environment or a flag, a comma-separated string."""
    if where.textual(raw):
        return tuple(part.strip() for part in str(raw).split(",") if part.strip())
    if not isinstance(raw, list | tuple):
        where.fail(raw, "a list of strings")
    return tuple(parse_str(item, where.at(f"[{i}]")) for i, item in enumerate(raw))


def parse_network_list(raw: object, where: Where) -> tuple[str, ...]:
    """IP addresses or CIDR networks, checked with `ipaddress` and kept as written."""
    items = parse_str_list(raw, where)
    for i, item in enumerate(items):
        try:
            ipaddress.ip_network(item.strip(), strict=False)
        except ValueError:
            where.at(f"[{i}]").fail(item, "an IP address or a CIDR network such as '10.0.0.0/8'")
    return tuple(item.strip() for item in items)


def parse_int64_list(raw: object, where: Where) -> tuple[int, ...]:
    if where.textual(raw):
        raw = [part.strip() for part in str(raw).split(",") if part.strip()]
    if not isinstance(raw, list | tuple):
        where.fail(raw, "a list of whole numbers")
    return tuple(
        parse_int(item, where.at(f"[{i}]"), INT64_MIN, INT64_MAX) for i, item in enumerate(raw)
    )


SPOOL_MODES = ("durable", "memory")  # SpoolMode, checked once every layer is read

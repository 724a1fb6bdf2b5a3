"""UUID parsing (the forms the Go tracker accepts) and time-ordered event ids (UUIDv7).

`parse_uuid` accepts exactly the forms of Go's `uuid.Parse` (http-api.md §2.5): 36-char canonical,
32 hex digits without dashes, `{canonical}` and `urn:uuid:canonical`, in any case, with
surrounding whitespace trimmed. It is stricter than `uuid.UUID(str)`, which also takes dashes in
any position, unbalanced braces and, through `int()`, signs, `0x` prefixes and underscores.

`new_id` makes RFC 9562 version 7 UUIDs. The Go tracker used v1; any version is valid in the
ClickHouse UUID columns, and v7 sorts by creation time, which suits `ORDER BY (created_at, eid)`.
"""

from __future__ import annotations

import os
import re
import threading
import time
import uuid
from functools import lru_cache

__all__ = ["ZERO_UUID", "new_id", "parse_uuid", "parse_uuid_text", "uuid_text"]

ZERO_UUID = uuid.UUID(int=0)

_HEX32 = re.compile(r"[0-9a-fA-F]{32}")
_CANONICAL = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
_URN_PREFIX = "urn:uuid:"

# `uuid.UUID(int=n)` checks its five keyword forms and the range in Python code; building the
# object directly, as CPython 3.14's own `UUID._from_int` does, costs about half as much. Only
# for ints known to fit in 128 bits (32 hex digits, or the UUIDv7 layout below).
_new_object = object.__new__
_set_slot = object.__setattr__
_UNKNOWN_SAFETY = uuid.SafeUUID.unknown


def _uuid_from_int(value: int) -> uuid.UUID:
    """``uuid.UUID(int=value)`` for a ``value`` in [0, 2**128)."""
    made = _new_object(uuid.UUID)
    _set_slot(made, "int", value)
    _set_slot(made, "is_safe", _UNKNOWN_SAFETY)
    return made


def parse_uuid(value: object) -> uuid.UUID | None:
    """Parse a UUID string in any form Go's `uuid.Parse` accepts; anything else gives None."""
    if not isinstance(value, str) or not value:
        return None
    parsed = _parse_text(value)
    return parsed[0] if parsed is not None else None


def parse_uuid_text(value: object) -> tuple[uuid.UUID, str] | None:
    """`parse_uuid` and the canonical text of the result (``str(uuid)``) in one step."""
    if not isinstance(value, str) or not value:
        return None
    return _parse_text(value)


# Text of recent UUIDs (bounded: cleared when full). `_parse_text` fills it with the text it has
# anyway, so rendering a parsed id never runs `UUID.__str__`. A plain dict is cheaper to hit than
# an `lru_cache`; a race between a clear and an insert only costs a later re-render.
_TEXT_CACHE_LIMIT = 4096
_texts: dict[uuid.UUID, str] = {}


def _remember_text(value: uuid.UUID, text: str) -> None:
    if len(_texts) >= _TEXT_CACHE_LIMIT:
        _texts.clear()
    _texts[value] = text


def uuid_text(value: uuid.UUID) -> str:
    """``str(value)``, memoised: an event's eid, vid and sid are rendered by `normalise` and
    again by several rows of its write plan, and `UUID.__str__` is Python code."""
    text = _texts.get(value)
    if text is None:
        text = str(value)
        _remember_text(value, text)
    return text


@lru_cache(maxsize=4096)
def _parse_text(value: str) -> tuple[uuid.UUID, str] | None:
    # Memoised: the same vid/sid/uid strings come back on every event of a visitor, and building
    # a UUID object is most of the cost. UUIDs are immutable, so sharing them is safe.
    s = value.strip()
    n = len(s)
    if n == 32:
        if _HEX32.fullmatch(s) is None:
            return None
        parsed = _uuid_from_int(int(s, 16))
        return parsed, uuid_text(parsed)
    if n == 38:
        if s[0] != "{" or s[37] != "}":
            return None
        s = s[1:37]
    elif n == 45:
        if s[:9].lower() != _URN_PREFIX:
            return None
        s = s[9:]
    elif n != 36:
        return None
    if _CANONICAL.fullmatch(s) is None:
        return None
    # The 36 checked characters lowercased are exactly what `str(UUID)` renders.
    parsed, text = _uuid_from_int(int(s.replace("-", ""), 16)), s.lower()
    _remember_text(parsed, text)
    return parsed, text


# --- UUIDv7 ----------------------------------------------------------------------------------
# Layout (RFC 9562 §5.7): 48-bit unix_ts_ms | ver (4) | rand_a (12) | var (2) | rand_b (62).
# We use RFC 9562 §6.2 method 1 with a 42-bit counter: its top 12 bits fill rand_a and its low 30
# bits the top of rand_b; the last 32 bits of rand_b are fresh random data on every call. A new
# millisecond reseeds the counter with random bits, keeping its top bit clear so that at least
# 2**41 ids fit in one millisecond before the counter overflows; on overflow (or when the clock
# steps back) the timestamp is advanced past the last one used, so ids never go backwards.
_COUNTER_BITS = 42
_COUNTER_MAX = (1 << _COUNTER_BITS) - 1
_COUNTER_SEED_MASK = (1 << (_COUNTER_BITS - 1)) - 1
_VERSION_7_AND_VARIANT = (0x7 << 76) | (0b10 << 62)

_lock = threading.Lock()
_last_ms = -1
_last_counter = 0
_RANDOM_POOL_BYTES = 4096
_random_pool = b""  # os.urandom bytes not used yet: one getrandom call per ~400 ids, not per id
_random_used = 0


def _random_int(size: int) -> int:
    """``size`` bytes from the operating system's CSPRNG as an int; the caller holds ``_lock``."""
    global _random_pool, _random_used
    if _random_used + size > len(_random_pool):
        _random_pool, _random_used = os.urandom(_RANDOM_POOL_BYTES), 0
    start = _random_used
    _random_used += size
    return int.from_bytes(_random_pool[start : start + size], "big")


def _forget_random_pool() -> None:
    """A forked child must not hand out the random bytes its parent also uses."""
    global _random_pool, _random_used
    _random_pool, _random_used = b"", 0


os.register_at_fork(after_in_child=_forget_random_pool)


def _reseeded() -> tuple[int, int]:
    """A fresh random (counter, tail) pair: 41-bit counter (top bit clear), 32-bit tail."""
    rand = _random_int(10)
    return (rand >> 32) & _COUNTER_SEED_MASK, rand & 0xFFFFFFFF


def new_id() -> uuid.UUID:
    """A new UUIDv7, strictly increasing within this process, safe to call from any thread."""
    global _last_ms, _last_counter
    now_ms = time.time_ns() // 1_000_000
    with _lock:
        if now_ms > _last_ms:
            ms = now_ms
            counter, tail = _reseeded()
        else:
            ms = _last_ms
            counter = _last_counter + 1
            if counter > _COUNTER_MAX:
                ms += 1
                counter, tail = _reseeded()
            else:
                tail = _random_int(4)
        _last_ms = ms
        _last_counter = counter
    value = (
        ((ms & 0xFFFFFFFFFFFF) << 80)
        | ((counter >> 30) << 64)
        | ((counter & 0x3FFFFFFF) << 32)
        | tail
        | _VERSION_7_AND_VARIANT
    )
    return _uuid_from_int(value)

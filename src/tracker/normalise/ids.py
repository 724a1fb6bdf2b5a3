"""UUIDs as one representation, their canonical text, and time-ordered event ids (UUIDv7).

An id travels through the tracker as `Uuid`: the 36-character lowercase text ``str(uuid.UUID)``
gives, which is also what ClickHouse's UUID columns take. It is parsed once, at the trust boundary.

`parse_uuid` accepts exactly the forms of Go's `uuid.Parse`: 36-char canonical, 32 hex digits
without dashes, `{canonical}` and `urn:uuid:canonical`, in any case, with surrounding whitespace
trimmed. It is stricter than `uuid.UUID(str)`, which also takes dashes in any position,
unbalanced braces and, through `int()`, signs, `0x` prefixes and underscores.

`new_id` makes RFC 9562 version 7 UUIDs. The Go tracker used v1; any version is valid in the
ClickHouse UUID columns, and v7 sorts by creation time, which suits `ORDER BY (created_at, eid)`.
"""

from __future__ import annotations

import os
import re
import threading
import time
from functools import lru_cache
from typing import NewType

__all__ = ["ZERO_UUID", "Uuid", "new_id", "parse_uuid"]

Uuid = NewType("Uuid", str)  # canonical text: 8-4-4-4-12 lowercase hex digits

ZERO_UUID = Uuid("00000000-0000-0000-0000-000000000000")

_HEX32 = re.compile(r"[0-9a-fA-F]{32}")
_CANONICAL = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
_URN_PREFIX = "urn:uuid:"


def _dashed(hex32: str) -> Uuid:
    return Uuid(f"{hex32[:8]}-{hex32[8:12]}-{hex32[12:16]}-{hex32[16:20]}-{hex32[20:]}")


def parse_uuid(value: object) -> Uuid | None:
    """The canonical text of a UUID in any form Go's `uuid.Parse` accepts; anything else, None."""
    if type(value) is not str or not value:
        return None
    return _parse_text(value)


@lru_cache(maxsize=4096)
def _parse_text(value: str) -> Uuid | None:
    # Memoised: the same vid/sid/uid strings come back on every event of a visitor.
    s = value.strip()
    n = len(s)
    if n == 32:
        return _dashed(s.lower()) if _HEX32.fullmatch(s) is not None else None
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
    return Uuid(s.lower())


# --- UUIDv7 ----------------------------------------------------------------------------------
# Layout (RFC 9562 section 5.7): 48-bit unix_ts_ms | ver (4) | rand_a (12) | var (2) | rand_b (62).
# We use RFC 9562 section 6.2 method 1 with a 42-bit counter: its top 12 bits fill rand_a and its
# low 30 bits the top of rand_b; the last 32 bits of rand_b are fresh random data on every call. A
# new millisecond reseeds the counter with random bits, keeping its top bit clear so that at least
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


def new_id() -> Uuid:
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
    return _dashed(f"{value:032x}")

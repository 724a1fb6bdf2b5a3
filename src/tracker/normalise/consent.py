"""Consent flags (`cflags`) as bit tests.

`cflags` is an int64 bitfield chosen by the integrator; the tracker assigns no names to its bits.
The Go tracker compared it numerically (`cflags >= CFlagsMarketing`), so any larger value passed
whatever its bits; we test bits. A missing `cflags` (None) never satisfies a non-empty mask.
"""

from __future__ import annotations

import math

__all__ = ["has_all", "has_any", "parse_cflags"]

_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1


def has_all(cflags: int | None, mask: int) -> bool:
    """Every bit of `mask` is set in `cflags`. An empty mask (0) asks for nothing: True."""
    if mask == 0:
        return True
    return cflags is not None and cflags & mask == mask


def has_any(cflags: int | None, mask: int) -> bool:
    """At least one bit of `mask` is set in `cflags` (the prune rule `cflags & mask > 0`)."""
    return cflags is not None and cflags & mask != 0


def _in_int64(n: int) -> int | None:
    return n if _INT64_MIN <= n <= _INT64_MAX else None


def parse_cflags(value: object) -> int | None:
    """An int64 from an int, an integral finite float or a base-10 integer string; else None.

    Booleans are not numbers here (`true` is not consent bit 0). Values outside int64 give None.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return _in_int64(value)
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return _in_int64(int(value))
        return None
    if isinstance(value, str):
        s = value.strip()
        digits = s[1:] if s[:1] in ("+", "-") else s
        if digits and len(digits) <= 19 and digits.isascii() and digits.isdigit():
            return _in_int64(int(s))
    return None

"""Hashes written to ClickHouse: hhash, bhash, iphash, ehash/chash/uhash and the account check.

The FNV and SHA-1 forms are byte-for-byte those of the Go tracker, so rows written by either
implementation join. The one deliberate difference is `iphash`: the Go form (`legacy_iphash`) is
an unsalted 32-bit FNV chain that can be reversed by enumerating the IPv4 space; `iphash` is an
HMAC-SHA256 keyed with a configured secret (see docs/differences.md).

All functions are pure. `hhash`, `bhash` and `iphash` are memoised: hosts, user agents and client
IPs repeat across requests, FNV over a 200-byte user agent is a Python-level loop (~18 µs), and an
HMAC costs a few µs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import lru_cache

__all__ = [
    "account_check",
    "b36",
    "bhash",
    "fnv1a32",
    "hhash",
    "iphash",
    "legacy_iphash",
    "password_sha1",
    "private_hash",
]

_FNV32_OFFSET = 0x811C9DC5
_FNV32_PRIME = 0x01000193
_MASK32 = 0xFFFFFFFF
_B36_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def fnv1a32(data: str) -> int:
    """32-bit FNV-1a of the UTF-8 bytes of `data` (Go's `hash/fnv` New32a)."""
    h = _FNV32_OFFSET
    for byte in data.encode():
        h = ((h ^ byte) * _FNV32_PRIME) & _MASK32
    return h


def b36(n: int) -> str:
    """Lowercase base-36 rendering of an unsigned int (Go's `strconv.FormatUint(n, 36)`)."""
    if n < 0:
        raise ValueError(f"b36 got {n}: expected an unsigned (non-negative) integer.")
    if n == 0:
        return "0"
    digits: list[str] = []
    while n:
        n, rem = divmod(n, 36)
        digits.append(_B36_DIGITS[rem])
    return "".join(reversed(digits))


@lru_cache(maxsize=1024)
def hhash(host: str) -> str:
    """Host hash: b36(FNV-1a-32(host)); '' for an empty host. Pass the normalised host."""
    if not host:
        return ""
    return b36(fnv1a32(host))


@lru_cache(maxsize=4096)
def bhash(user_agent: str) -> str:
    """Browser hash: b36(FNV-1a-32(lower(trim(user_agent)))); '' when the UA is empty."""
    ua = user_agent.strip().lower()
    if not ua:
        return ""
    return b36(fnv1a32(ua))


def legacy_iphash(ip: str) -> str:
    """The Go tracker's iphash: four chained FNV chunks, unsalted. Kept for compatibility tests.

    `h = b36(fnv(ip))`, then three times `h = h + b36(fnv(ip + h))`. Reversible by enumerating the
    IPv4 space, so new rows use `iphash` instead.
    """
    if not ip:
        return ""
    h = b36(fnv1a32(ip))
    for _ in range(3):
        h += b36(fnv1a32(ip + h))
    return h


@lru_cache(maxsize=8192)
def iphash(ip: str, secret: bytes) -> str:
    """Keyed IP hash: HMAC-SHA256(secret, ip), first 16 bytes as 32 lowercase hex chars.

    '' for an empty IP. Rotating the secret changes every hash, which is the point.
    """
    if not ip:
        return ""
    return hmac.digest(secret, ip.encode(), "sha256")[:16].hex()


def private_hash(value: str, prefix: str) -> str:
    """ehash/chash/uhash: base64url (with `=` padding) of SHA-1(prefix + lower(trim(value))).

    Always 28 characters. `prefix` is the config's `PrefixPrivateHash`.
    """
    digest = hashlib.sha1((prefix + value.strip().lower()).encode()).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")


def password_sha1(password: str) -> str:
    """The Go `accounts.pwd` form: base64url (with padding) of SHA-1(password), untrimmed."""
    digest = hashlib.sha1(password.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")


def account_check(host: str, mixer: str) -> str:
    """The value a client's `acct` must equal: b36(FNV-1a-32(host + AccountHashMixer))."""
    return b36(fnv1a32(host + mixer))

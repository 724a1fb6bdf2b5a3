"""JA4H HTTP client fingerprint, in the go-ja4h form the existing `events.ja4h` rows hold.

The value is `A_B_C_D`:

* A: the first two letters of the lowercased method; `20` for HTTP/2, else `11`; `c`/`n` for
  cookies present; `r`/`n` for a non-empty Referer; the two-digit count of distinct header names
  minus Cookie and Referer when they are non-empty; the first Accept-Language value with `-`
  removed, lowercased, cut at the first `,`, right-padded with `0` and cut to 4 chars (`0000`
  when absent). A `;q=` weight is not removed: `en;q=0.9` gives `en;q`, as in go-ja4h.
* B: the first 12 hex chars of SHA-256 over the distinct header names in Go canonical form
  (`User-Agent`), **sorted** and concatenated. Cookie and Referer are included here.
* C: the first 12 hex chars of SHA-256 over the cookie names, sorted and concatenated (duplicates
  kept); twelve `0`s without cookies.
* D: identical to C.

This is not the FoxIO JA4H specification, which hashes headers in wire order and cookie names
*with values* in D. go-ja4h cannot see wire order (Go's header map) and repeats C as D.
We reproduce it so that fingerprints stay comparable with existing rows.

Go's server takes `Host` out of the header map and drops `Transfer-Encoding` after reading the
body framing, so neither is ever counted; HTTP/2 pseudo-headers (`:path`, ...) are not headers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from functools import lru_cache

from tracker.normalise.request import TOKEN_CHARS

__all__ = ["ja4h"]

_NO_COOKIES = "0" * 12
_NOT_IN_GO_HEADER_MAP = frozenset(("host", "transfer-encoding"))


@lru_cache(maxsize=512)
def _canonical(name: str) -> str:
    """Go's `textproto.CanonicalMIMEHeaderKey`: `user-agent` → `User-Agent`."""
    if not name or not set(name) <= TOKEN_CHARS:  # Go leaves such a name as it is
        return name
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


@lru_cache(maxsize=512)
def _map_key(name: str) -> str | None:
    """The key Go's header map holds a lowercase header `name` under; None if it never holds it.

    Memoised, like `_canonical`: a request's header names are the few its client always sends."""
    if name in _NOT_IN_GO_HEADER_MAP or name.startswith(":"):
        return None
    return _canonical(name)


@lru_cache(maxsize=64)
def _http_version(version: str) -> str:
    """`20` for HTTP/2, else `11`. Takes ASGI (`2`) and Go (`HTTP/2.0`) spellings."""
    v = version.strip().upper().removeprefix("HTTP/")
    return "20" if v in ("2", "2.0") else "11"


def _sha12(parts: Iterable[str]) -> str:
    return _sha12_text("".join(sorted(parts)))


@lru_cache(maxsize=1024)
def _sha12_text(text: str) -> str:
    # Memoised: clients send the same header names and cookie names on every request.
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def ja4h(
    method: str,
    http_version: str,
    headers: Sequence[tuple[str, str]],
    cookies: Sequence[str],
) -> str:
    """The go-ja4h fingerprint of one request.

    `headers` are `(lowercase name, value)` pairs in wire order; `cookies` the cookie names as Go's
    `Request.Cookies()` parses them (`RawRequest.cookie_names`).
    """
    first_values: dict[str, str] = {}
    for name, value in headers:
        key = _map_key(name)
        if key is not None:
            first_values.setdefault(key, value)
    count = len(first_values)
    has_referer = bool(first_values.get("Referer"))
    if first_values.get("Cookie"):
        count -= 1
    if has_referer:
        count -= 1
    language = first_values.get("Accept-Language", "")
    if language:
        language = (language.replace("-", "").lower().partition(",")[0] + "0000")[:4]
    else:
        language = "0000"
    part_a = (
        f"{method.lower()[:2]}{_http_version(http_version)}"
        f"{'c' if cookies else 'n'}{'r' if has_referer else 'n'}{count:02d}{language}"
    )
    part_c = _sha12(cookies) if cookies else _NO_COOKIES
    return f"{part_a}_{_sha12(first_values)}_{part_c}_{part_c}"

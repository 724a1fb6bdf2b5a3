"""Building the untrusted value map V of one event from the parts of a request.

The Go tracker builds V in a fixed order; later sources override earlier ones:

1. the ``User`` request header (a JSON object; anything else, ``null`` included, is ignored),
2. cookies ``vid``, ``sid``, ``ehash`` and ``CookieConsent`` (as ``cflags``),
3. URL path pairs after the route (``/tr/v1/tr/vid/X/ename/Y``),
4. the query string,
5. the body (a JSON object, one element of a JSON array, a form body or a WebSocket message).

Unlike the Go tracker, one rule holds for every source and transport (see docs/differences.md):
keys are trimmed and lowercased and lose a leading ``utm_`` (so ``utm_source`` is ``source``
everywhere, and ``x_utm_y`` keeps its name); values keep their case (identifiers are lowercased later,
field by field, in ``tracker.normalise.event``); JSON ``null`` values are skipped. The query string is
read on every method, not only GET, and a PUT body is read like a POST body.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from tracker.normalise.consent import parse_cflags

Values = dict[str, Any]


# Normalised forms of the keys seen lately: every event repeats the same few dozen keys. Bounded
# (cleared when full) and only for short keys, so clients cannot make it hold much memory.
_KEY_CACHE_LIMIT = 2048
_KEY_CACHE_MAX_CHARS = 64
_normal_keys: dict[str, str] = {}


def norm_key(key: str) -> str:
    normal = _normal_keys.get(key)
    if normal is not None:
        return normal
    normal = key.strip().lower()
    if normal.startswith("utm_"):
        normal = normal[4:]
    if len(key) <= _KEY_CACHE_MAX_CHARS:
        if len(_normal_keys) >= _KEY_CACHE_LIMIT:
            _normal_keys.clear()
        _normal_keys[key] = normal
    return normal


def merge(target: Values, source: Mapping[str, Any]) -> None:
    """Copy ``source`` into ``target`` with normalised keys, skipping nulls.

    When both hold an object under the same key the two are merged one level deep, as the Go
    tracker does for injected values (WebSocket messages, short links); any other value overwrites.
    """
    for raw_key, value in source.items():
        if value is None or not isinstance(raw_key, str):
            continue
        key = norm_key(raw_key)
        if not key:
            continue
        if isinstance(value, dict) and isinstance(old := target.get(key), dict):
            target[key] = {**old, **value}
        else:
            target[key] = value


def from_user_header(value: str | None) -> Values:
    if not value:
        return {}
    try:
        parsed = orjson.loads(value)
    except orjson.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def from_cookies(cookies: Mapping[str, str]) -> Values:
    out: Values = {}
    for name in ("vid", "sid", "ehash"):
        value = cookies.get(name)
        if value:
            out[name] = value
    consent = cookies.get("CookieConsent")
    if consent is not None:
        flags = parse_cflags(consent)
        if flags is not None:
            out["cflags"] = flags
    return out


def from_path(path: str, route_depth: int) -> Values:
    """Key/value pairs from the path segments after the route prefix.

    ``route_depth`` is the number of leading segments that name the route (3 for ``/tr/v1/tr/``),
    so the Go tracker's junk pair ``v1 = "tr"`` is not produced. An odd trailing key is dropped.
    Empty segments keep their place, as in Go: ``/ename//etyp/view`` gives ``ename=""`` and
    ``etyp="view"``, not ``ename="etyp"``.
    """
    segments = path.split("/")[1 + route_depth :]
    out: Values = {}
    for i in range(0, len(segments) - 1, 2):
        key = norm_key(segments[i])
        if key:
            out[key] = segments[i + 1]
    return out


def from_query(pairs: Iterable[tuple[str, str]], ignore_key: str) -> Values:
    """Query parameters; the first value of a key wins. ``ignore_key`` present → nothing."""
    out: Values = {}
    seen_ignore = False
    for raw_key, value in pairs:
        key = norm_key(raw_key)
        if ignore_key and key == ignore_key.lower():
            seen_ignore = True
            break
        if key and key not in out:
            out[key] = value
    return {} if seen_ignore else out


def build(
    *,
    user_header: str | None,
    cookies: Mapping[str, str],
    path_values: Mapping[str, Any],
    query_values: Mapping[str, Any],
    body: Mapping[str, Any] | None,
) -> Values:
    values: Values = {}
    # In the order above; most sources of most requests are empty, and merging nothing is skipped.
    for source in (
        from_user_header(user_header) if user_header else None,
        from_cookies(cookies) if cookies else None,
        path_values,
        query_values,
        body,
    ):
        if source:
            merge(values, source)
    return values

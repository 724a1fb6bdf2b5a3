"""URL normalisation for `url` and `last`, in the Go tracker's form.

We keep the Go tracker's observed output shape on purpose (see "Kept on purpose" in
docs/differences.md): every existing row holds it, and `hits`/`referrers` group by it. So:

* with a `UrlFilter` regex: a match is replaced by the chosen capture group (1-based; 0 = the last
  group; a group that did not take part gives ''); with no match, or a group index out of range,
  everything from the first `?` is cut. Then the prefix rule.
* without a filter: the prefix rule, then everything from the first `?` is cut.
* prefix rule: lowercase; drop everything before the first `https://` (or, failing that,
  `http://`) and the scheme with it, leaving the protocol-relative `//host/path`. A `#fragment`
  is kept.

The regex is matched with Python's `re.search` (Go's `FindStringSubmatch` is also an unanchored
leftmost search). Patterns written for Go's RE2 that use only the common syntax behave the same.
"""

from __future__ import annotations

import re

__all__ = ["UrlFilter", "is_internal_route"]

_INTERNAL_ROUTE = re.compile(r"(?:/tr/|/img/|/pub/|/str/|/rdr/|/xrdr/)v[0-9]")


def _prefix_rule(url: str) -> str:
    url = url.lower()
    i = url.find("https://")
    if i >= 0:
        return url[i + 6 :]
    i = url.find("http://")
    if i >= 0:
        return url[i + 5 :]
    return url


def _cut_query(url: str) -> str:
    i = url.find("?")
    return url if i < 0 else url[:i]


class UrlFilter:
    """The configured URL filter (`UrlFilter`, `UrlFilterMatchGroup`); `apply` is pure."""

    __slots__ = ("_group", "_last_group", "_regex")

    def __init__(self, pattern: str | None, group: int = 0) -> None:
        self._regex: re.Pattern[str] | None = None
        if pattern:
            try:
                self._regex = re.compile(pattern)
            except re.error as exc:
                raise ValueError(
                    f"Config key 'UrlFilter' has value {pattern!r}: expected a regular "
                    f"expression ({exc})."
                ) from exc
        self._group = group
        self._last_group = self._regex.groups if self._regex is not None else 0

    def __repr__(self) -> str:
        pattern = self._regex.pattern if self._regex is not None else None
        return f"UrlFilter({pattern!r}, {self._group})"

    def apply(self, url: str) -> str:
        """Normalise one URL string."""
        if self._regex is None:
            return _cut_query(_prefix_rule(url))
        match = self._regex.search(url)
        if match is not None:
            # Go's match slice has groups + 1 entries; group 0 means "the last entry".
            index = self._last_group if self._group == 0 else self._group
            if 0 <= index <= self._last_group:
                return _prefix_rule(match.group(index) or "")
        return _prefix_rule(_cut_query(url))


def is_internal_route(request_uri: str) -> bool:
    """Whether a request URI is a tracker route (`/tr/v1/...` etc.), whose URI is not a page URL.

    Equivalent to the Go pattern `.*(/tr/|/img/|/pub/|/str/|/rdr/|/xrdr/)v[0-9]+.*`.
    """
    return "/v" in request_uri and _INTERNAL_ROUTE.search(request_uri) is not None

"""Redirect targets resolved as a browser resolves a Location, before the allow-list check.

Each row is what Chromium does with the target as the Location of a page on this host
(https://tr.example.com/tr/v1/rdr/): where the visitor would land. The allow-list holds
`*.good.example`; a target that would land on any other host must be refused (None).
"""

from __future__ import annotations

import pytest
from ada_url import URL

from tracker.errors import BadRequest
from tracker.http.redirects import AllowList

ALLOW = AllowList(("tr.example.com",), ("*.good.example",))
PAGE = "https://tr.example.com/tr/v1/rdr/"

# target → where Chromium goes (host, or "" for this host), and the Location we send (None: 400)
CASES = [
    ("///evil.example", "evil.example", None),
    ("////evil.example", "evil.example", None),
    ("/\\evil.example", "evil.example", None),
    ("\\\\evil.example", "evil.example", None),
    ("\\/evil.example", "evil.example", None),
    ("/\t/evil.example", "evil.example", None),
    ("/\n/evil.example", "evil.example", None),
    (" //evil.example", "evil.example", None),
    ("\x00//evil.example", "evil.example", None),
    ("https:evil.example", "", None),  # same scheme as the page: a relative path there…
    ("http:evil.example", "evil.example", None),  # …but another scheme: a host
    ("https:/\\evil.example", "evil.example", None),
    ("HTTPS://EVIL.EXAMPLE", "evil.example", None),
    ("https://evil.example\\@shop.good.example", "evil.example", None),
    ("https://shop.good.example%2eevil.example/", "shop.good.example.evil.example", None),
    ("https://shop.good.example.evil.example/", "shop.good.example.evil.example", None),
    ("https://x.good.example@evil.example/", "evil.example", None),
    ("javascript:alert(1)", None, None),
    ("java\nscript:alert(1)", None, None),
    ("data:text/html,x", None, None),
    ("relative/path", "", None),  # a path must start with '/'
    ("/local/path?q=1#f", "", "/local/path?q=1#f"),
    ("/%2f/evil.example", "", "/%2f/evil.example"),
    ("/..//evil.example", "", "/.//evil.example"),
    ("/./\\evil.example", "", "/.//evil.example"),
    ("https://shop.good.example/x", "shop.good.example", "https://shop.good.example/x"),
    ("https:\\\\shop.good.example\\x", "shop.good.example", "https://shop.good.example/x"),
    ("https://evil.example%2f@shop.good.example/", "shop.good.example",
     "https://evil.example%2f@shop.good.example/"),
    ("https://SHOP.good.example:443/ü", "shop.good.example", "https://shop.good.example/%C3%BC"),
]  # fmt: skip


@pytest.mark.parametrize(("target", "lands", "location"), CASES)
def test_a_target_is_checked_where_a_browser_would_go(
    target: str, lands: str | None, location: str | None
) -> None:
    try:
        browser = URL(target, PAGE)
        landed: str | None = "" if browser.hostname == "tr.example.com" else browser.hostname
        if browser.protocol not in ("http:", "https:"):
            landed = None
    except ValueError:
        landed = None
    assert landed == lands  # the table says what a browser does
    if location is None:
        with pytest.raises(BadRequest):
            ALLOW.check(target)
    else:
        sent = ALLOW.check(target)
        assert sent == location
        followed = URL(sent, PAGE)  # and the Location sent lands where it was checked to land
        assert followed.hostname == (lands or "tr.example.com")

"""Headless Chromium (Debian's ``chromium``) driven by Playwright, for tests of what a browser runs.

The machine has no network beyond the local one: the flags keep Chromium from reaching for it
(without them it waits on connections that never come). Playwright's own browser downloads are
never used (no ``playwright install``): ``CHROMIUM`` is the system browser, and a missing one
fails the test that needs it.
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, Playwright

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# A desktop Chrome's User-Agent: headless Chromium's own names it a bot, whose events the
# dashboard leaves out by default.
USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/156.0.0.0 Safari/537.36"
)

# A page of "your site" that runs the tracking script, served by the tracker's /pub/ route.
LANDING = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Landing</title>
<script defer src="/tr/v1/t.js"></script>
<script>window.tracker=window.tracker||function(){(tracker.q=tracker.q||[]).push(arguments)}</script>
</head><body>
<h1 id="title">Spring sale</h1>
<button id="spa" onclick="history.pushState({}, '', '/tr/v1/pub/app/step2')">Next step</button>
<button id="signup" onclick="tracker('signup', {etyp: 'conversion', plan: 'pro'})">Sign up</button>
<a id="out" href="{outbound}">Our partner</a>
</body></html>
"""


def launch(playwright: Playwright) -> Browser:
    assert CHROMIUM.exists(), "Debian's chromium is missing: apt-get install -y chromium"
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)


# A page that asks for consent first: t.js sends nothing and sets no cookie until the visitor agrees.
CONSENT = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Consent</title>
<script defer src="/tr/v1/t.js" data-consent="required"></script>
<script>window.tracker=window.tracker||function(){(tracker.q=tracker.q||[]).push(arguments)}</script>
</head><body>
<button id="agree" onclick="tracker('consent', 1)">I agree</button>
<button id="withdraw" onclick="tracker('consent', 0)">Withdraw</button>
</body></html>
"""

"""The screenshots of docs/ (``make screenshots``): a tracker on 200,000 synthetic events
(``bench/dashboard_data.py``), photographed by headless Chromium.

    python -m tests.screenshots [--out docs]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from playwright.sync_api import sync_playwright
from tests.browser import USER_AGENT, launch
from tests.conftest import FAST_BATCHES, TrackerServer

from tracker.accounts import add_account_sql
from tracker.normalise.ids import Uuid
from tracker.sinks.chdb import ChdbSink

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from dashboard_data import SITES, fill  # noqa: E402

UID = Uuid("5b0e2a36-2c51-4d8e-9d43-6f0a9f1b7c21")
PASSWORD = "screenshots"

SHOTS = (
    ("dashboard.png", f"/dashboard/?site={SITES[0]}&range=30d", True),
    (
        "dashboard-filtered.png",
        f"/dashboard/?site={SITES[0]}&range=7d&referrer=www.google.com",
        False,
    ),
    ("dashboard-tracking-url.png", "/dashboard/links/track", False),
    ("dashboard-short-links.png", "/dashboard/links/short", False),
    ("dashboard-script.png", "/dashboard/setup", False),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        data_dir = Path(work) / "data"
        sink = ChdbSink(data_dir / "clickhouse")
        sink.open()
        fill(lambda sql: sink.query(sql, "TSV"), args.events, 30, datetime.now(UTC))
        sink.query(add_account_sql(UID, PASSWORD), "TSV")
        sink.close()
        server = TrackerServer(data_dir, FAST_BATCHES).start()
        try:
            with sync_playwright() as playwright:
                browser = launch(playwright)
                page = browser.new_page(
                    user_agent=USER_AGENT, viewport={"width": 1280, "height": 800}
                )
                page.goto(server.url + "/dashboard/login")
                page.fill("#uid", str(UID))
                page.fill("#password", PASSWORD)
                page.click("#login")
                page.wait_for_url("**/dashboard/")
                for name, path, full in SHOTS:
                    page.goto(server.url + path)
                    page.screenshot(path=str(args.out / name), full_page=full)
                    print(f"{args.out / name}")
                browser.close()
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What `tracker serve` says when it starts and stops, and a port it cannot have."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
from tests.conftest import WAIT, cli, wait_until


def test_a_taken_port_is_refused_before_anything_starts_naming_who_holds_it(
    tmp_path: Path,
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        data = tmp_path / "data"
        result = cli("serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data),
                     check=False)  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.startswith(
        f"tracker: Cannot listen on http://127.0.0.1:{port} (Port): Address already in use. "
        f"PID {os.getpid()} ("
    ), result.stderr
    assert result.stderr.endswith(") listens there; stop it or choose another port.\n")
    assert "ready:" not in result.stderr
    assert not data.exists()  # refused before the data directory or the store was touched


def test_start_up_names_the_url_store_and_spool_and_shutdown_what_was_written(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"Notify": [{"Service": "clickhouse", "MaxBatchTime": "4m"}]}))
    data, log = tmp_path / "data", tmp_path / "serve.log"
    args = ["serve", str(config), "--host", "127.0.0.1", "--port", "0", "--data-dir", str(data)]
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "tracker", *args], stderr=out)
    try:
        ready = wait_until(
            "the ready line",
            lambda: re.search(
                r"ready: http://127\.0\.0\.1:(\d+) \(HTTP, every route; Port\)\n", log.read_text()
            ),
            seen=lambda _: log.read_text(),
        )
        url = f"http://127.0.0.1:{ready[1]}"  # port 0: the line names the port it got
        for name in ("first", "second"):
            body = {"ename": name, "etyp": "view"}
            assert httpx.post(f"{url}/tr/v1/str/", json=body, timeout=10).status_code == 200
            if name == "first":  # written at once (the table was quiet), so the next one waits
                wait_until(
                    "the first row is written",
                    lambda: httpx.get(f"{url}/metrics", timeout=10).json()["batching"],
                    lambda batching: batching["total_items"] == 1,
                )
        process.send_signal(signal.SIGTERM)
        assert process.wait(WAIT) == 0
    finally:
        if process.poll() is None:
            process.kill()
    text = log.read_text()
    assert f"store: embedded ClickHouse (chDB) in {data / 'clickhouse'}, database sfpla\n" in text
    assert f"spool: durable in {data / 'spool'} (events are answered once on disk)\n" in text
    assert re.search(
        r"stopped in \d+\.\d\d s: wrote 1 row in 1 batch while stopping; since the start, "
        r"2 events accepted and 2 rows written; nothing is left in the spool\n",
        text,
    ), text

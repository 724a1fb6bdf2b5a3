"""The redirect API's logins: failures limited per IP and per account, passwords kept out of `ps`
and out of error messages."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import termios
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from conftest import FAST_BATCHES, TrackerServer, cli

PASSWORD = "correct horse battery"
TRACKER = (sys.executable, "-m", "tracker")


def add_account(data_dir: Path, uid: str, password: str) -> None:
    """`tracker accounts add --password -`: the password on stdin, never in the arguments."""
    result = subprocess.run(
        [*TRACKER, "accounts", "add", "--data-dir", str(data_dir), "--uid", uid, "--password", "-"],
        input=password + "\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def login(server: TrackerServer, uid: str, password: str, ip: str) -> httpx.Response:
    return httpx.get(
        f"{server.url}/tr/v1/rpi/redirects/example.com",
        auth=(uid, password),
        headers={"X-Forwarded-For": ip},
        timeout=30,
    )


def test_failed_logins_are_limited_per_ip_and_per_account(make_server: Any) -> None:
    config = {
        **FAST_BATCHES,
        "TrustedProxies": ["127.0.0.1"],
        "AuthFailuresPerIP": 3,
        "AuthFailuresPerAccount": 5,
    }
    server: TrackerServer = make_server(config=config)
    uid = str(uuid.uuid4())
    add_account(server.data_dir, uid, PASSWORD)
    assert login(server, uid, PASSWORD, "198.51.100.1").status_code == 200
    assert [login(server, uid, "guess", "198.51.100.1").status_code for _ in range(3)] == [401] * 3
    limited = login(server, uid, PASSWORD, "198.51.100.1")  # even the right one, from this IP
    assert limited.status_code == 429
    assert 0 < int(limited.headers["retry-after"]) <= 600
    assert limited.json() == {
        "ok": False,
        "error": "Too many failed logins from this IP; retry later.",
        "status": 429,
    }
    assert login(server, uid, PASSWORD, "198.51.100.2").status_code == 200  # another IP

    # Guesses spread over many IPs still count against the account.
    for i in range(2):  # 3 + 2 = 5 failures for this account
        assert login(server, uid, "guess", f"198.51.100.{10 + i}").status_code == 401
    locked = login(server, uid, PASSWORD, "198.51.100.20")
    assert (locked.status_code, locked.json()["error"]) == (
        429,
        "Too many failed logins to this account; retry later.",
    )
    other = str(uuid.uuid4())
    add_account(server.data_dir, other, PASSWORD)
    assert login(server, other, PASSWORD, "198.51.100.20").status_code == 200


def test_a_non_uuid_account_id_is_refused_without_echoing_it(make_server: Any) -> None:
    server: TrackerServer = make_server(config=FAST_BATCHES)
    answer = login(server, "my-secret-passw0rd", PASSWORD, "198.51.100.3")
    assert answer.status_code == 400
    assert "my-secret" not in answer.text


def test_accounts_add_says_how_to_keep_the_password_out_of_ps() -> None:
    text = " ".join(cli("accounts", "--help").stdout.split())
    assert "'-' reads the password as one line from stdin" in text
    assert "asked for at a prompt" in text


def test_accounts_add_asks_for_the_password_at_a_prompt(tmp_path: Path) -> None:
    uid = str(uuid.uuid4())
    primary, secondary = os.openpty()

    def controlling_terminal() -> None:
        os.setsid()
        fcntl.ioctl(secondary, termios.TIOCSCTTY, 0)

    process = subprocess.Popen(
        [*TRACKER, "accounts", "add", "--data-dir", str(tmp_path / "data"), "--uid", uid],
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        preexec_fn=controlling_terminal,
    )
    os.close(secondary)
    seen = b""

    def read_until(text: bytes) -> None:
        nonlocal seen
        deadline = time.monotonic() + 60
        while text not in seen:
            assert time.monotonic() < deadline, f"no {text!r} in {seen!r}"
            seen += os.read(primary, 1024)

    try:
        read_until(b"Password for the new account: ")
        os.write(primary, PASSWORD.encode() + b"\n")
        read_until(b"The same password again: ")
        os.write(primary, PASSWORD.encode() + b"\n")
        read_until(b"added")
        assert process.wait(60) == 0
    finally:
        os.close(primary)
        if process.poll() is None:
            process.kill()
    assert PASSWORD.encode() not in seen  # not echoed
    rows = cli(
        "query",
        "--data-dir",
        str(tmp_path / "data"),
        "--format",
        "JSONEachRow",
        f"SELECT pwd FROM accounts WHERE uid = '{uid}'",
    ).stdout
    assert rows.startswith('{"pwd":"scrypt$')

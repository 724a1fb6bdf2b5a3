"""Sockets a public endpoint must not let pile up: a cap on open connections that answers 503,
timeouts by default, a write timeout for clients that stop reading, and the open-file limit."""

from __future__ import annotations

import resource
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from conftest import FAST_BATCHES, TrackerServer, wait_until
from tracker.config import load_settings

CAP = 8
BIG_FILE_BYTES = 32 * 2**20


def test_a_public_endpoint_has_timeouts_without_any_config() -> None:
    settings = load_settings(None, env={})[0]
    assert 0 < settings.read_header_timeout_seconds <= 10
    assert 0 < settings.read_timeout_seconds <= 60
    assert 0 < settings.idle_timeout_seconds <= 60
    assert 0 < settings.write_timeout_seconds <= 60


def test_the_open_file_limit_is_raised_to_the_hard_limit() -> None:
    from tracker.http.limits import raise_open_files_limit

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    lowered = min(1024, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (lowered // 2, hard))
    try:
        assert raise_open_files_limit() == resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] > lowered // 2
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_sockets_over_the_cap_get_503_at_once_and_service_returns_when_they_go(
    make_server: Any, tmp_path: Path
) -> None:
    public = tmp_path / "public"
    public.mkdir()
    (public / "big.bin").write_bytes(bytes(BIG_FILE_BYTES))
    config = {
        **FAST_BATCHES,
        "MaxOpenConnections": CAP,
        "WriteTimeoutSeconds": 1,
        "StaticDirectory": str(public),
    }
    server: TrackerServer = make_server(config=config)
    idle = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(CAP)]
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as extra:
            extra.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = b""
            while chunk := extra.recv(4096):
                answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 503 ")
        assert b"retry-after: 1" in head.lower()
        assert orjson.loads(body)["status"] == 503
    finally:
        for sock in idle:
            sock.close()
    wait_until(
        "service returns once the idle sockets are gone",
        lambda: httpx.get(server.url + "/ping", timeout=10).status_code,
        (200).__eq__,
    )

    # A client that asks for a big file and stops reading is cut off after WriteTimeoutSeconds.
    with socket.socket() as slow:
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.settimeout(30)
        slow.connect(("127.0.0.1", server.port))
        slow.sendall(b"GET /tr/v1/pub/big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(3)  # reads nothing for longer than the write timeout
        received = 0
        while chunk := slow.recv(1 << 20):
            received += len(chunk)
    assert received < BIG_FILE_BYTES  # the connection was closed mid-response
    assert httpx.get(server.url + "/ping", timeout=10).status_code == 200

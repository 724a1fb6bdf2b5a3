"""Connection slots, header size, read timeouts and /clear."""

from __future__ import annotations

import signal
import socket
import uuid
from collections.abc import Iterator

import httpx
import orjson
import pytest

from conftest import FAST_BATCHES, TrackerServer, wait_until
from tracker.http.limits import DailyLimit

MAX_HEADER_BYTES = 4096
BUSY = {"ok": False, "error": "Maximum clients reached on this node.", "status": 503}


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrackerServer]:
    config = {
        **FAST_BATCHES,
        "MaximumConnections": 1,  # one leaked slot and every later request would get 503
        "MaxHeaderBytes": MAX_HEADER_BYTES,
        "MaxBodyBytes": 1024,
        "ReadHeaderTimeoutSeconds": 1,
        "ReadTimeoutSeconds": 30,
    }
    server = TrackerServer(tmp_path_factory.mktemp("limits") / "data", config).start()
    yield server
    if server.running:
        server.stop(signal.SIGKILL)


def slots_in_use(server: TrackerServer) -> int:
    body = httpx.get(server.url + "/status").json()
    assert body[0]["Key"] == "client"
    conns: int = body[1]["Value"]
    return conns


def connect(server: TrackerServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=15)


def exchange(server: TrackerServer, raw: bytes) -> bytes:
    """Send raw bytes, then read until the server closes the connection."""
    with connect(server) as sock:
        sock.sendall(raw)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:
            pass
    return b"".join(chunks)


def json_body(response: bytes) -> object:
    return orjson.loads(response.partition(b"\r\n\r\n")[2])


def test_request_over_maximum_connections_gets_503_with_retry_after(
    limited: TrackerServer,
) -> None:
    url = limited.url
    with connect(limited) as holder:  # a /tr/ POST whose body never finishes holds the slot
        holder.sendall(b"POST /tr/v1/tr/ HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        wait_until("/status shows the held slot", lambda: slots_in_use(limited), lambda n: n == 1)
        busy = httpx.post(url + "/tr/v1/tr/", content=b"{}", headers={"Origin": "https://a.b"})
        assert busy.status_code == 503
        assert busy.headers["retry-after"] == "1"
        assert busy.headers["access-control-allow-origin"] == "https://a.b"
        assert busy.json() == BUSY
        assert httpx.get(url + "/tr/v1/pub/x").status_code == 503  # every slot route
        # no slot needed: health, status, ping, clear and the CORS preflight
        for path in ("/ping", "/status", "/clear", "/health"):
            assert httpx.get(url + path).status_code == 200, path
        assert httpx.options(url + "/tr/v1/tr/").status_code == 200
    wait_until(
        "the client's disconnect frees the slot", lambda: slots_in_use(limited), lambda n: n == 0
    )
    assert httpx.post(url + "/tr/v1/tr/", content=b"{}").status_code == 200


def test_no_slot_leaks_after_requests_that_fail_in_every_way(limited: TrackerServer) -> None:
    url = limited.url + "/tr/v1/tr/"
    failures = [
        (httpx.post(url, content=b"{not json"), 400),
        (httpx.post(url, content=b"[1]"), 400),
        (httpx.post(url, content=b'{"vid": {"an": "object"}}'), 400),
        (httpx.post(url, content=b"x" * 2000), 413),
        (httpx.post(url, content=iter([b"y" * 700, b"y" * 700])), 413),  # chunked, no length
        (httpx.get(url, headers={"User": "null"}, params={"params": "null"}), 200),
        (httpx.get(limited.url + "/nothing/here"), 404),
        (httpx.get(limited.url + "/api/x"), 404),  # no ProxyUrl: no /api/
        (httpx.get(limited.url + "/tr/v1/pub/missing.js"), 404),
        (httpx.delete(limited.url + "/tr/v1/str/"), 405),
    ]
    for response, status in failures:
        assert response.status_code == status, response.request.url
        assert slots_in_use(limited) == 0
    assert exchange(limited, b"GARBAGE\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    big = b"GET /tr/v1/tr/ HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * MAX_HEADER_BYTES + b"\r\n\r\n"
    assert exchange(limited, big).startswith(b"HTTP/1.1 431 ")
    with connect(limited) as sock:  # the client gives up in the middle of its body
        sock.sendall(b"POST /tr/v1/tr/ HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{")
        wait_until("the request holds its slot", lambda: slots_in_use(limited), lambda n: n == 1)
    wait_until(
        "the abandoned request frees its slot", lambda: slots_in_use(limited), lambda n: n == 0
    )
    assert httpx.post(url, content=b'{"ename": "still_fine"}').status_code == 200


def test_header_block_over_max_header_bytes_gets_431_in_json(limited: TrackerServer) -> None:
    one_big = b"GET /ping HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (MAX_HEADER_BYTES * 8) + b"\r\n"
    many = b"GET /ping HTTP/1.1\r\nHost: x\r\n" + b"".join(
        b"X-H%d: %s\r\n" % (i, b"b" * 100) for i in range(MAX_HEADER_BYTES // 100)
    )
    for head in (one_big, many):
        response = exchange(limited, head + b"\r\n")
        assert response.startswith(b"HTTP/1.1 431 ")
        assert json_body(response) == {
            "ok": False,
            "error": f"The request headers are over the limit of {MAX_HEADER_BYTES} bytes.",
            "status": 431,
        }
    fits = b"GET /ping HTTP/1.1\r\nHost: x\r\nX-Big: " + b"c" * (MAX_HEADER_BYTES // 2) + b"\r\n"
    assert exchange(limited, fits + b"Connection: close\r\n\r\n").startswith(b"HTTP/1.1 200 ")


def test_request_head_not_received_in_time_gets_408(limited: TrackerServer) -> None:
    with connect(limited) as silent:  # connects and sends nothing
        assert silent.recv(4096).startswith(b"HTTP/1.1 408 ")
    response = exchange(limited, b"GET /ping HTTP/1.1\r\nHost: x\r\n")  # head never ends
    assert response.startswith(b"HTTP/1.1 408 ")
    assert json_body(response) == {
        "ok": False,
        "error": "The request was not received in time.",
        "status": 408,
    }


def test_clear_answers_ok_with_clear_site_data_and_tracks_nothing(limited: TrackerServer) -> None:
    cleared, marker = str(uuid.uuid4()), str(uuid.uuid4())
    response = httpx.get(
        limited.url + "/clear", headers={"Origin": "https://a.b", "Cookie": f"vid={cleared}"}
    )
    assert (response.status_code, response.text) == (200, "OK")
    assert response.headers["clear-site-data"] == '"*"'
    assert response.headers["access-control-allow-origin"] == "https://a.b"
    # rows land in order: once an event sent after /clear is stored, /clear's would be too
    httpx.get(limited.url + "/tr/v1/tr/", headers={"Cookie": f"vid={marker}"})
    limited.wait_for(f"SELECT 1 FROM events WHERE vid = '{marker}'", 1)
    assert limited.query(f"SELECT 1 FROM events WHERE vid = '{cleared}'") == []


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_daily_limit_counts_per_ip_and_starts_again_at_utc_midnight() -> None:
    clock = Clock(20_000 * 86_400 + 86_400 - 90)  # 90 s before a UTC midnight
    limit = DailyLimit(2, clock=clock)
    assert [limit.take("192.0.2.1") for _ in range(3)] == [None, None, 90]
    assert limit.take("192.0.2.2") is None  # another IP has its own count
    clock.now += 90
    assert limit.take("192.0.2.1") is None
    assert limit.counts == {"192.0.2.1": 1}  # yesterday's counters are gone


def test_daily_limit_memory_is_bounded_and_new_ips_pass_when_it_is_full() -> None:
    limit = DailyLimit(1, max_ips=2, clock=Clock(0.0))
    assert [limit.take(ip) for ip in ("a", "b", "c", "c")] == [None, None, None, None]
    assert len(limit.counts) == 2
    assert limit.take("a") == 86_400

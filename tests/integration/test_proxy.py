"""`/api/`: the reverse proxy to ProxyUrl, its tracking and its daily limit."""

from __future__ import annotations

import http.client
import signal
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from conftest import FAST_BATCHES, TrackerServer, free_port

BIG = bytes(range(256)) * 12_288  # 3 MiB: over MaxBodyBytes, which the proxy does not apply


class Upstream(ThreadingHTTPServer):
    """The API behind the proxy: records what it receives; `/base/api/...` routes below."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), UpstreamHandler)
        self.seen: list[dict[str, Any]] = []
        self.release = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class UpstreamHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Upstream

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def handle_any(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.server.seen.append(
            {"method": self.command, "path": self.path, "headers": headers, "body": body}
        )
        if self.path.startswith("/base/api/stream"):
            self.send_response(200)
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"5\r\nfirst\r\n")
            self.wfile.flush()
            self.server.release.wait(30)  # until the client has the first chunk
            self.wfile.write(b"6\r\nsecond\r\n0\r\n\r\n")
            return
        status = 418 if self.path.startswith("/base/api/teapot") else 200
        out = body if self.path.startswith("/base/api/echo") else b'{"from": "upstream"}'
        self.send_response(status)
        self.send_header("content-length", str(len(out)))
        self.send_header("x-upstream", "yes")
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_DELETE = do_OPTIONS = do_PATCH = handle_any


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


def start(root: Path, config: dict[str, Any]) -> TrackerServer:
    return TrackerServer(root / "data", {**FAST_BATCHES, **config}).start()


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory, upstream: Upstream) -> Iterator[TrackerServer]:
    config = {
        "ProxyUrl": upstream.url + "/base/",
        "ProxyUrlFilter": ".*(login|css)",
        "ProxyForceJson": True,
        "ProxyDailyLimit": 3,
        "TrustedProxies": ["127.0.0.1"],
    }
    server = start(tmp_path_factory.mktemp("proxy"), config)
    yield server
    if server.running:
        server.stop(signal.SIGKILL)


def call(server: TrackerServer, method: str, path: str, ip: str, **kw: Any) -> httpx.Response:
    """A request from client `ip` (each test its own, so the daily limit stays out of the way)."""
    headers = {"X-Forwarded-For": ip, **kw.pop("headers", {})}
    return httpx.request(method, server.url + path, headers=headers, timeout=30, **kw)


def last_seen(upstream: Upstream, path: str) -> dict[str, Any]:
    return next(r for r in reversed(upstream.seen) if r["path"] == path)


def test_request_goes_to_proxy_url_with_its_path_query_and_forwarding_headers(
    proxy: TrackerServer, upstream: Upstream
) -> None:
    response = call(proxy, "GET", "/api/users/42?x=1&y=two", "198.51.100.7")
    assert response.status_code == 200
    assert response.json() == {"from": "upstream"}
    assert response.headers["x-upstream"] == "yes"
    assert response.headers["strict-transport-security"] == "max-age=15768000 ; includeSubDomains"
    assert response.headers["access-control-allow-origin"] == "*"
    seen = last_seen(upstream, "/base/api/users/42?x=1&y=two")  # ProxyUrl's path kept
    headers = seen["headers"]
    assert headers["host"] == upstream.url.removeprefix("http://")
    assert headers["x-forwarded-host"] == f"127.0.0.1:{proxy.port}"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-for"] == "198.51.100.7"  # the client, as TrustedProxies says
    assert headers["x-real-ip"] == "198.51.100.7"
    assert headers["content-type"] == "application/json"  # ProxyForceJson


def test_bodies_stream_through_in_both_directions(proxy: TrackerServer, upstream: Upstream) -> None:
    echoed = call(proxy, "POST", "/api/echo", "198.51.100.8", content=BIG)
    assert echoed.status_code == 200
    assert last_seen(upstream, "/base/api/echo")["body"] == BIG
    assert echoed.content == BIG
    # The upstream holds back its second chunk until the client has read the first one: a
    # proxy that buffered whole responses would deliver nothing until the upstream gave up.
    upstream.release.clear()
    headers = {"X-Forwarded-For": "198.51.100.8"}
    with httpx.stream("GET", proxy.url + "/api/stream", headers=headers, timeout=30) as response:
        chunks = response.iter_raw()
        received = b""
        while len(received) < len(b"first"):
            received += next(chunks)
        assert received == b"first"
        upstream.release.set()
        assert b"".join(chunks) == b"second"


def test_upstream_status_is_relayed(proxy: TrackerServer) -> None:
    assert call(proxy, "PUT", "/api/teapot", "198.51.100.9", content=b"{}").status_code == 418


def test_options_gets_the_cors_preflight_without_reaching_the_upstream(
    proxy: TrackerServer, upstream: Upstream
) -> None:
    response = call(proxy, "OPTIONS", "/api/preflight-only", "198.51.100.10")
    assert response.status_code == 200
    assert "access-control-allow-methods" in response.headers
    assert not any(r["path"] == "/base/api/preflight-only" for r in upstream.seen)


def test_proxied_request_is_tracked_as_a_server_event_unless_the_filter_matches(
    proxy: TrackerServer,
) -> None:
    tracked, filtered = str(uuid.uuid4()), str(uuid.uuid4())
    call(proxy, "GET", "/api/login", "198.51.100.11", headers={"Cookie": f"vid={filtered}"})
    response = call(
        proxy,
        "GET",
        "/api/orders/7?ename=Order",
        "198.51.100.11",
        headers={"Cookie": f"vid={tracked}"},
    )
    assert "set-cookie" not in response.headers  # a server event sets no cookie
    rows = proxy.wait_for(f"SELECT url, ename, ip FROM events WHERE vid = '{tracked}'", 1)
    assert rows == [{"url": "/api/orders/7", "ename": "order", "ip": "198.51.100.11"}]
    # rows land in order: the filtered request came first, so it would be stored by now
    assert proxy.query(f"SELECT 1 FROM events WHERE vid = '{filtered}'") == []


def test_daily_limit_answers_429_until_midnight_and_lets_a_new_ip_through(
    proxy: TrackerServer, upstream: Upstream
) -> None:
    for _ in range(3):
        assert call(proxy, "GET", "/api/limited", "203.0.113.9").status_code == 200
    refused = call(proxy, "GET", "/api/limited", "203.0.113.9")
    assert refused.status_code == 429
    assert 0 < int(refused.headers["retry-after"]) <= 86_400
    assert refused.json() == {
        "ok": False,
        "error": "API limit reached: too many requests from this IP today.",
        "status": 429,
    }
    assert call(proxy, "GET", "/api/limited", "203.0.113.10").status_code == 200
    reached = [r for r in upstream.seen if r["path"] == "/base/api/limited"]
    assert [r["headers"]["x-forwarded-for"].split(",")[0] for r in reached] == [
        "203.0.113.9",
        "203.0.113.9",
        "203.0.113.9",
        "203.0.113.10",
    ]
    status = httpx.get(proxy.url + "/status").json()
    assert status[1] == {"Key": "conns", "Value": 0}  # the 429 gave its slot back


def test_unreachable_upstream_gets_502_and_an_empty_filter_tracks_every_request(
    tmp_path: Path,
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    server = start(tmp_path, {"ProxyUrl": dead, "IgnoreProxyOptions": True})
    try:
        vid = str(uuid.uuid4())
        response = httpx.get(server.url + "/api/ping", headers={"Cookie": f"vid={vid}"})
        assert response.status_code == 502
        assert response.json() == {
            "ok": False,
            "error": "The /api/ upstream could not be reached.",
            "status": 502,
        }
        assert httpx.options(server.url + "/api/ping").status_code == 502  # OPTIONS went upstream
        rows = server.wait_for(f"SELECT url FROM events WHERE vid = '{vid}'", 1)
        assert rows == [{"url": "/api/ping"}]
    finally:
        server.stop(signal.SIGKILL)


def test_proxy_url_that_is_not_an_http_url_stops_the_server_with_a_clear_error(
    tmp_path: Path,
) -> None:
    from conftest import cli

    (tmp_path / "config.json").write_bytes(orjson.dumps({"ProxyUrl": "localhost:3030"}))
    result = cli(
        "serve", str(tmp_path / "config.json"), "--data-dir", str(tmp_path / "d"), check=False
    )
    assert result.returncode == 2
    assert "Config key 'ProxyUrl' has value 'localhost:3030'" in result.stderr


def raw_get(server: TrackerServer, target: str) -> int:
    """GET with the path sent exactly as given (httpx would resolve its dot segments first)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request("GET", target, headers={"X-Forwarded-For": "198.51.100.60"})
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.mark.parametrize(
    "target",
    [
        "/api/../../etc/passwd",
        "/api/%2e%2e/%2E%2e/etc/passwd",
        "/api/x/../../../etc/passwd",
        "/api/..%2f..%2fetc/passwd",
        "/api/..%5c..%5cetc/passwd",
        "/api/.%2e/",
    ],
)
def test_the_proxy_never_leaves_its_prefix(
    proxy: TrackerServer, upstream: Upstream, target: str
) -> None:
    seen = len(upstream.seen)
    assert raw_get(proxy, target) == 400
    assert len(upstream.seen) == seen  # nothing reached the upstream


def test_dot_segments_inside_the_prefix_are_resolved(
    proxy: TrackerServer, upstream: Upstream
) -> None:
    assert raw_get(proxy, "/api/users/../echo/./x") == 200
    assert upstream.seen[-1]["path"] == "/base/api/echo/x"


def test_client_identity_headers_are_set_from_trusted_proxies_not_passed_on(
    proxy: TrackerServer, upstream: Upstream, tmp_path: Path
) -> None:
    forged = {
        "X-Real-IP": "6.6.6.1",
        "Forwarded": "for=6.6.6.2;proto=https",
        "X-Client-IP": "6.6.6.3",
        "CF-Connecting-IP": "6.6.6.4",
        "True-Client-IP": "6.6.6.5",
        "X-Forwarded-Port": "6666",
        "X-Forwarded-Server": "6.6.6.6",
    }
    untrusted = start(tmp_path, {"ProxyUrl": upstream.url + "/base/"})
    try:
        response = httpx.get(untrusted.url + "/api/whoami", headers=forged, timeout=30)
        assert response.status_code == 200
        headers = last_seen(upstream, "/base/api/whoami")["headers"]
        assert not [v for v in headers.values() if "6.6.6" in v or "6666" in v], headers
        assert (headers["x-forwarded-for"], headers["x-real-ip"]) == ("127.0.0.1", "127.0.0.1")
        assert headers["x-forwarded-proto"] == "http"  # the Forwarded proto was not believed
    finally:
        untrusted.stop()


def test_proxied_query_strings_are_not_logged(proxy: TrackerServer, upstream: Upstream) -> None:
    secret = f"token-{uuid.uuid4().hex}"
    assert (
        call(proxy, "GET", f"/api/users/7?access_token={secret}", "198.51.100.61").status_code
        == 200
    )
    assert last_seen(upstream, f"/base/api/users/7?access_token={secret}")
    assert secret not in proxy.log.read_text()

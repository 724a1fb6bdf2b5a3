"""TLS and the extra listeners: the Go tracker's shipped config with test certificates, real
handshakes from httpx, http.client, ssl and websockets, redirects, reloads and HTTP/2."""

from __future__ import annotations

import http.client
import signal
import socket
import ssl
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import trustme
from cryptography import x509
from tests.unit.test_config import GO_CONFIG
from websockets.sync.client import connect

from conftest import TrackerServer, free_port, wait_until

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


class TlsServer:
    """A tracker with TLS: its three ports, the CA that signed its certificate and a client
    context that trusts it."""

    def __init__(self, root: Path, config: dict[str, Any], ca: trustme.CA) -> None:
        self.tls, self.redirect, self.plain = free_port(), free_port(), free_port()
        config = {
            **config,
            "ProxyPortTLS": f":{self.tls}",
            "ProxyPort": f":{self.redirect}",
            "ProxyExceptHTTP": f":{self.plain}",
        }
        self.server = TrackerServer(root / "data", config)
        self.server.url = f"http://127.0.0.1:{self.plain}"  # TrackerServer waits for its /ping
        self.ca = ca
        self.client_context = ssl.create_default_context()
        ca.configure_trust(self.client_context)
        self.https = f"https://localhost:{self.tls}"

    def start(self) -> TlsServer:
        self.server.start()
        return self

    def handshake(
        self, server_hostname: str = "localhost", context: ssl.SSLContext | None = None
    ) -> ssl.SSLSocket:
        raw = socket.create_connection(("127.0.0.1", self.tls), timeout=10)
        return (context or self.client_context).wrap_socket(raw, server_hostname=server_hostname)


def issue(ca: trustme.CA, folder: Path, name: str = "localhost") -> tuple[Path, Path]:
    cert = ca.issue_cert(name, "127.0.0.1")
    folder.mkdir(parents=True, exist_ok=True)
    cert.cert_chain_pems[0].write_to_path(folder / "tls.crt")
    cert.private_key_pem.write_to_path(folder / "tls.key")
    return folder / "tls.crt", folder / "tls.key"


def serial(sock: ssl.SSLSocket) -> int:
    der = sock.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number


@pytest.fixture(scope="module")
def go(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    """The Go tracker's shipped config.json, its `.setup/keys` files replaced by test ones."""
    root = tmp_path_factory.mktemp("go-tls")
    ca = trustme.CA()
    cert, key = issue(ca, root / "keys")
    config = {**GO_CONFIG, "TLSCert": str(cert), "TLSKey": str(key)}
    config["Notify"] = [{**s, "MaxBatchTime": "0.2s"} for s in GO_CONFIG["Notify"]]
    server = TlsServer(root, config, ca).start()
    yield server
    if server.server.running:
        server.server.stop(signal.SIGKILL)


def test_the_go_clients_urls_work_on_the_shipped_configs_three_listeners(go: TlsServer) -> None:
    vid = str(uuid.uuid4())
    event = {"vid": vid, "ename": "tls_post", "url": "https://example.com/a"}
    with httpx.Client(verify=go.client_context) as client:
        tls = client.post(f"{go.https}/tr/v1/tr/", json=event)
    assert tls.status_code == 200
    cookies = tls.headers.get_list("set-cookie")
    assert cookies
    assert all("; Secure" in c and "SameSite=None" in c for c in cookies)
    assert "strict-transport-security" not in tls.headers  # HSTSSeconds is off by default

    plain = httpx.post(f"http://localhost:{go.plain}/tr/v1/tr/", json={**event, "ename": "plain"})
    assert plain.status_code == 200
    assert plain.headers.get_list("set-cookie")
    assert not any("Secure" in c for c in plain.headers.get_list("set-cookie"))

    with connect(
        f"wss://localhost:{go.tls}/tr/v1/ws", ssl=go.client_context, open_timeout=10
    ) as ws:
        ws.send(orjson.dumps({**event, "ename": "wss"}).decode())
    go.server.wait_for(f"SELECT ename FROM events WHERE vid = '{vid}'", 3)
    names = {
        row["ename"] for row in go.server.query(f"SELECT ename FROM events WHERE vid = '{vid}'")
    }
    assert names == {"tls_post", "plain", "wss"}


@pytest.mark.parametrize("method", METHODS)
def test_the_redirect_listener_sends_every_method_to_the_tls_port_once(
    go: TlsServer, method: str
) -> None:
    url = f"http://localhost:{go.redirect}/tr/v1/tr/?a=1&b=%2F"
    answer = httpx.request(method, url, content=b'{"ename":"x"}' if method != "GET" else None)
    assert answer.status_code == (301 if method in ("GET", "HEAD") else 308)
    assert answer.headers["location"] == f"https://localhost:{go.tls}/tr/v1/tr/?a=1&b=%2F"


def test_the_redirect_listener_serves_no_route_and_refuses_hosts_outside_domains(
    go: TlsServer,
) -> None:
    base = f"http://127.0.0.1:{go.redirect}"
    ping = httpx.get(f"{base}/ping", headers={"Host": "tr.sfpl.io:8080"})
    assert (ping.status_code, ping.headers["location"]) == (
        301,
        f"https://tr.sfpl.io:{go.tls}/ping",
    )
    for host in ("evil.example", "evil.example:80", "localhost.evil.example", "a b", "[::1]"):
        answer = httpx.get(f"{base}/x", headers={"Host": host})
        assert answer.status_code == 400, host
        assert "location" not in answer.headers
        assert answer.json()["ok"] is False
    challenge = httpx.get(f"{base}/.well-known/acme-challenge/unknown-token")
    assert challenge.status_code == 404
    assert go.server.query("SELECT count() AS n FROM events WHERE url LIKE '%evil%'") == [{"n": 0}]


def test_tls_is_1_2_or_newer_with_aead_ciphers_and_http_1_1_when_http2_is_off(
    go: TlsServer,
) -> None:
    ctx = ssl.create_default_context()
    go.ca.configure_trust(ctx)
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    with go.handshake(context=ctx) as sock:
        assert sock.version() in ("TLSv1.2", "TLSv1.3")
        assert sock.selected_alpn_protocol() == "http/1.1"

    legacy = ssl.create_default_context()
    go.ca.configure_trust(legacy)
    legacy.maximum_version = ssl.TLSVersion.TLSv1_2
    legacy.set_ciphers("ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:AES128-SHA")
    with pytest.raises(ssl.SSLError):
        go.handshake(context=legacy).close()
    legacy.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256")
    with go.handshake(context=legacy) as sock:
        assert sock.version() == "TLSv1.2"


def test_certificate_files_are_reloaded_while_connections_stay_open(tmp_path: Path) -> None:
    ca = trustme.CA()
    cert, key = issue(ca, tmp_path / "keys")
    config = {
        "UseLocalTLS": True,
        "TLSCert": str(cert),
        "TLSKey": str(key),
        "HTTP2": True,
        "HSTSSeconds": 600,
        "IdleTimeoutSeconds": 60,
        "Notify": [{"Service": "clickhouse", "Context": "sfpla", "MaxBatchTime": "0.2s"}],
    }
    server = TlsServer(tmp_path, config, ca).start()
    try:
        kept = http.client.HTTPSConnection(
            "localhost", server.tls, context=server.client_context, timeout=10
        )
        kept.request("GET", "/ping")
        assert kept.getresponse().read() == b"pong"
        assert kept.sock is not None
        before = serial(kept.sock)

        vid = str(uuid.uuid4())
        with httpx.Client(http2=True, verify=server.client_context) as client:
            h2 = client.post(f"{server.https}/tr/v1/tr/", json={"vid": vid, "ename": "h2"})
        assert (h2.http_version, h2.status_code) == ("HTTP/2", 200)
        assert h2.headers["strict-transport-security"] == "max-age=600"
        rows = server.server.wait_for(f"SELECT ja4h FROM events WHERE vid = '{vid}'", 1)
        assert rows[0]["ja4h"].startswith("po20")  # JA4H marks HTTP/2 requests with "20"

        # A new pair under the same names, as certbot leaves it (a half-written pair is skipped).
        key.write_bytes(b"-----BEGIN PRIVATE KEY-----\ntruncated\n")
        (tmp_path / "new").mkdir()
        new_cert, new_key = issue(ca, tmp_path / "new")
        new_key.replace(key)
        new_cert.replace(cert)

        def fresh_serial() -> int:
            with server.handshake() as sock:
                return serial(sock)

        wait_until("a new handshake gets the new certificate", fresh_serial, lambda s: s != before)
        kept.request("GET", "/ping")
        assert kept.getresponse().read() == b"pong"  # the same connection, the old certificate
        assert serial(kept.sock) == before
        kept.close()
        assert server.server.stop() == 0  # SIGTERM: every listener drained, a clean exit
    finally:
        if server.server.running:
            server.server.stop(signal.SIGKILL)

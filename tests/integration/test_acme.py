"""ACME end to end against Debian's `pebble`: a certificate issued over http-01 through the
redirect listener, served, and renewed while a WebSocket client stays connected.

pebble-challtestsrv is the DNS server pebble asks; it resolves every name to 127.0.0.1, so
pebble validates `tracker.test` by fetching the challenge from the tracker's redirect listener
(pebble's `httpPort`). Pebble's HTTPS certificate is made here (the Debian package ships none).
Its certificates live 15 seconds, so the tracker renews them after 10.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import ssl
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
import trustme
from cryptography import x509
from websockets.sync.client import ClientConnection, connect

from conftest import TrackerServer, free_port, wait_until

HOST = "tracker.test"
VALIDITY = 15  # seconds


class Pebble:
    def __init__(self, root: Path, http_port: int) -> None:
        for tool in ("pebble", "pebble-challtestsrv"):
            assert shutil.which(tool), (
                f"{tool} is missing: apt-get install -y pebble (make test does)"
            )
        ca = trustme.CA()
        ca.issue_cert("localhost", "127.0.0.1").private_key_and_cert_chain_pem.write_to_path(
            root / "pebble.pem"
        )
        self.ca_file = root / "pebble-ca.pem"
        ca.cert_pem.write_to_path(self.ca_file)
        self.port, self.management, dns = free_port(), free_port(), free_port()
        config = {
            "pebble": {
                "listenAddress": f"127.0.0.1:{self.port}",
                "managementListenAddress": f"127.0.0.1:{self.management}",
                "certificate": str(root / "pebble.pem"),
                "privateKey": str(root / "pebble.pem"),
                "httpPort": http_port,  # the tracker's redirect listener
                "tlsPort": free_port(),
                "certificateValidityPeriod": VALIDITY,
            }
        }
        (root / "pebble.json").write_text(json.dumps(config))
        self.log = open(root / "pebble.log", "ab")  # noqa: SIM115 (closed in stop)
        self.processes = [
            subprocess.Popen(
                ["pebble-challtestsrv", "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
                 "-dns01", f"127.0.0.1:{dns}", "-http01", "", "-https01", "", "-tlsalpn01", "",
                 "-management", f"127.0.0.1:{free_port()}"],
                stdout=self.log, stderr=subprocess.STDOUT,
            ),
            subprocess.Popen(
                ["pebble", "-config", str(root / "pebble.json"), "-dnsserver", f"127.0.0.1:{dns}"],
                stdout=self.log, stderr=subprocess.STDOUT,
                env={"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"},
            ),
        ]  # fmt: skip
        self.directory = f"https://127.0.0.1:{self.port}/dir"
        verify = ssl.create_default_context(cafile=self.ca_file)
        wait_until("pebble answers", lambda: self._get(self.directory, verify) is not None)
        root_pem = self._get(f"https://127.0.0.1:{self.management}/roots/0", verify)
        assert root_pem is not None
        self.client_context = ssl.create_default_context(cadata=root_pem)

    @staticmethod
    def _get(url: str, verify: ssl.SSLContext) -> str | None:
        try:
            answer = httpx.get(url, verify=verify, timeout=5)
        except httpx.HTTPError:
            return None
        return answer.text if answer.status_code == 200 else None

    def stop(self) -> None:
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
            process.wait(10)
        self.log.close()


@pytest.fixture
def pebble_and_ports(tmp_path: Path) -> Iterator[tuple[Pebble, int, int, int]]:
    tls, redirect, plain = free_port(), free_port(), free_port()
    pebble = Pebble(tmp_path, redirect)
    yield pebble, tls, redirect, plain
    pebble.stop()


def served_serial(tls_port: int, context: ssl.SSLContext) -> int | None:
    """The serial of the certificate served for HOST, if it verifies against pebble's root."""
    try:
        with (
            socket.create_connection(("127.0.0.1", tls_port), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname=HOST) as sock,
        ):
            der = sock.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError):
        return None
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number


def open_ws(tls_port: int, context: ssl.SSLContext) -> ClientConnection:
    # Generous: a loaded machine (the suite runs in parallel) can take seconds per handshake.
    raw = socket.create_connection(("127.0.0.1", tls_port), timeout=30)
    return connect(
        f"wss://{HOST}:{tls_port}/tr/v1/ws",
        sock=raw,
        ssl=context,
        server_hostname=HOST,
        open_timeout=30,
    )


def test_an_acme_certificate_is_issued_served_and_renewed_with_a_client_connected(
    tmp_path: Path, pebble_and_ports: tuple[Pebble, int, int, int]
) -> None:
    pebble, tls, redirect, plain = pebble_and_ports
    config = {
        "UseAcme": True,
        "Domains": [HOST, "localhost"],  # localhost cannot be validated: skipped, with a warning
        "AcmeDirectoryUrl": pebble.directory,
        "AcmeCACert": str(pebble.ca_file),
        "AcmeEmail": "ops@example.com",
        "ProxyPortTLS": f":{tls}",
        "ProxyPort": f":{redirect}",
        "ProxyExceptHTTP": f":{plain}",
        "Notify": [{"Service": "clickhouse", "Context": "sfpla", "MaxBatchTime": "0.2s"}],
    }
    server = TrackerServer(tmp_path / "data", config)
    server.url = f"http://127.0.0.1:{plain}"
    server.start()
    try:
        context = pebble.client_context
        first = wait_until("pebble's certificate is served", lambda: served_serial(tls, context))
        vid = str(uuid.uuid4())
        with open_ws(tls, context) as ws:
            ws.send(orjson.dumps({"vid": vid, "ename": "before"}).decode())
            renewed = wait_until(
                "the certificate is renewed",
                lambda: served_serial(tls, context),
                lambda seen: seen is not None and seen != first,
            )
            ws.send(orjson.dumps({"vid": vid, "ename": "during"}).decode())
        with open_ws(tls, context) as ws:
            ws.send(orjson.dumps({"vid": vid, "ename": "after"}).decode())
        rows = server.wait_for(f"SELECT ename FROM events WHERE vid = '{vid}' ORDER BY ename", 3)
        assert [row["ename"] for row in rows] == ["after", "before", "during"]
        kept = list((tmp_path / "data" / "acme").glob(f"*/{HOST}/cert.pem"))
        assert len(kept) == 1
        kept_serial = x509.load_pem_x509_certificate(kept[0].read_bytes()).serial_number
        assert kept_serial in (renewed, served_serial(tls, context))
        assert server.stop() == 0
        assert "ACME: no certificate for localhost" in server.log.read_text()

        # Restarted on the same data directory: the kept account key finds its account again
        # (the server answers "exists") and the next renewal works.
        server = TrackerServer(tmp_path / "data", config)
        server.url = f"http://127.0.0.1:{plain}"
        server.start()
        wait_until(
            "a renewal after the restart",
            lambda: served_serial(tls, context),
            lambda seen: seen not in (None, first, renewed, kept_serial),
        )
        assert server.stop() == 0
        assert "ACME: no certificate for tracker.test" not in server.log.read_text()
    finally:
        if server.running:
            server.stop(signal.SIGKILL)

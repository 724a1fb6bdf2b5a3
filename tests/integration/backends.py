"""Real parts for the backend tests: a nats-server with JetStream, moto's S3 server, and a local
stand-in for the Facebook Graph API that checks every request against Meta's payload rules.

Each starts on a free port with its files in ``tmp_path``; a missing binary fails the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import nats
import orjson
import pytest
from tests.conftest import free_port, wait_until

BIN = Path(sys.executable).parent


def _binary(name: str) -> str:
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    assert found, f"{name} is not installed: `make install-dev` installs it"
    return found


def _port_open(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class NatsServer:
    """nats-server with JetStream; `stop` and `start` again keep the port and the stored streams."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> NatsServer:
        self.directory.mkdir(parents=True, exist_ok=True)
        args = [_binary("nats-server"), "-a", "127.0.0.1", "-p", str(self.port), "-js"]
        args += ["-sd", str(self.directory)]
        with open(self.directory / "server.log", "ab") as out:
            self.process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
        wait_until("nats-server accepts connections", lambda: _port_open(self.port), timeout=20)
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def run(self, coro: Any) -> Any:
        return asyncio.run(coro)

    def add_stream(self, name: str, subjects: list[str]) -> None:
        async def go() -> None:
            client = await nats.connect(self.url)
            await client.jetstream().add_stream(name=name, subjects=subjects)
            await client.close()

        asyncio.run(go())

    def stream_messages(self, stream: str, subject: str) -> list[dict[str, Any]]:
        """Every message a stream holds on ``subject`` (read with an ordered consumer)."""

        async def go() -> list[dict[str, Any]]:
            client = await nats.connect(self.url)
            js = client.jetstream()
            info = await js.stream_info(stream)
            found: list[dict[str, Any]] = []
            if info.state.messages:
                sub = await js.subscribe(subject, ordered_consumer=True)
                while len(found) < info.state.messages:
                    try:
                        msg = await sub.next_msg(timeout=2)
                    except nats.errors.TimeoutError:
                        break
                    found.append(orjson.loads(msg.data))
            await client.close()
            return found

        result: list[dict[str, Any]] = asyncio.run(go())
        return result


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path / "nats").start()
    yield server
    server.stop()


class MotoServer:
    """moto's S3 in server mode on a free port (`stop` and `start` keep the port, not the data)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> MotoServer:
        self.directory.mkdir(parents=True, exist_ok=True)
        args = [_binary("moto_server"), "-H", "127.0.0.1", "-p", str(self.port)]
        with open(self.directory / "moto.log", "ab") as out:
            self.process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
        wait_until("moto answers", lambda: _port_open(self.port), timeout=30)
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )

    def objects(self, bucket: str) -> dict[str, dict[str, Any]]:
        listing = self.client().list_objects_v2(Bucket=bucket)
        return {item["Key"]: item for item in listing.get("Contents", [])}


@pytest.fixture
def moto_server(tmp_path: Path) -> Iterator[MotoServer]:
    server = MotoServer(tmp_path / "moto").start()
    yield server
    server.stop()


# -- the Graph API stand-in -----------------------------------------------------------------------
HEX64 = re.compile(r"[0-9a-f]{64}")
HASHED = ("em", "ph", "fn", "ln", "ge", "db", "ct", "st", "zp", "country", "external_id")
ACTION_SOURCES = {
    "email", "website", "app", "phone_call", "chat", "physical_store", "system_generated",
    "business_messaging", "other",
}  # fmt: skip


def meta_problems(body: Any, now: float) -> list[str]:
    """What Meta's documented payload rules say is wrong with a Conversions API request body."""
    problems: list[str] = []
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list) or not 1 <= len(data) <= 1000:
        return [f"data must be a list of 1 to 1000 events, got {type(data).__name__}"]
    if not isinstance(body.get("access_token"), str) or not body["access_token"]:
        problems.append("access_token missing")
    for i, event in enumerate(data):
        where = f"data[{i}]"
        if not isinstance(event.get("event_name"), str) or not event["event_name"]:
            problems.append(f"{where}.event_name missing")
        t = event.get("event_time")
        if not isinstance(t, int) or not now - 7 * 86400 <= t <= now + 60:
            problems.append(f"{where}.event_time must be unix seconds within 7 days, got {t!r}")
        if event.get("action_source") not in ACTION_SOURCES:
            problems.append(f"{where}.action_source {event.get('action_source')!r}")
        if not isinstance(event.get("event_id"), str):
            problems.append(f"{where}.event_id missing")
        user = event.get("user_data")
        if not isinstance(user, dict) or not user:
            problems.append(f"{where}.user_data missing")
            continue
        for key in HASHED:
            if key in user and not (isinstance(user[key], str) and HEX64.fullmatch(user[key])):
                problems.append(
                    f"{where}.user_data.{key} is not a lowercase SHA-256: {user[key]!r}"
                )
        if event.get("action_source") == "website" and not user.get("client_user_agent"):
            problems.append(f"{where}: a website event needs client_user_agent")
        for key in event:
            if key.startswith("_"):
                problems.append(f"{where}.{key}: not a Conversions API field")
        custom = event.get("custom_data", {})
        if "value" in custom and not isinstance(custom["value"], int | float):
            problems.append(f"{where}.custom_data.value is not a number")
    return problems


class GraphApi:
    """Answers each POST with the next scripted status (200 when the script is empty); an event
    named ``refuse_me`` gets a 400, as Meta refuses an invalid event. Records what it accepted."""

    def __init__(self) -> None:
        self.script: list[int] = []
        self.down = False  # every request answered 503 while set
        self.accepted: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self.problems: list[str] = []
        self.lock = threading.Lock()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = orjson.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status, answer = api.answer(self.path, body)
                payload = orjson.dumps(answer)
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", "1")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, path: str, body: Any) -> tuple[int, dict[str, Any]]:
        with self.lock:
            entry = {"path": path, "events": len(body.get("data", [])), "at": time.monotonic()}
            self.requests.append(entry)
            problems = meta_problems(body, time.time())
            if not re.fullmatch(r"/v\d+\.\d+/\d+/events", path):
                problems.append(f"path {path}")
            if problems:
                self.problems.extend(problems)
                return 400, {"error": {"message": "; ".join(problems), "code": 100}}
            if self.down:
                return 503, {"error": {"message": "down for the test", "code": 2}}
            if self.script:
                status = entry["status"] = self.script.pop(0)
                if status != 200:
                    return status, {"error": {"message": f"scripted {status}", "code": 1}}
            if any(e["event_name"] == "refuse_me" for e in body["data"]):
                message = "Invalid parameter: refuse_me is not allowed"
                return 400, {"error": {"message": message, "code": 100}}
            self.accepted.extend(body["data"])
            return 200, {"events_received": len(body["data"]), "fbtrace_id": "test"}

    def names(self) -> list[str]:
        with self.lock:
            return [e["event_name"] for e in self.accepted]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def graph_api() -> Iterator[GraphApi]:
    api = GraphApi()
    yield api
    api.close()


def metrics(url: str) -> dict[str, Any]:
    result: dict[str, Any] = httpx.get(url + "/metrics", timeout=10).json()
    return result


class TcpGate:
    """A TCP forwarder to ``target_port`` that can be closed (refusing connections and cutting
    those open) and opened again on the same port: an outage of a server that keeps its data."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._listener: Any = None
        self._open: list[Any] = []

    def open(self) -> TcpGate:
        import socket

        listener = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def _accept(self, listener: Any) -> None:
        import socket

        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self._open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: Any, sink: Any) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.close()

    def close(self) -> None:
        import socket

        if self._listener is not None:
            with contextlib.suppress(OSError):  # wakes the accepting thread, or it keeps the port
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        for sock in self._open:
            try:
                sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            except OSError:
                pass
        self._open = []

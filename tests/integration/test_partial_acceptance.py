"""One bad event never costs the good ones: the valid events of a batch are stored and the client
learns which were refused and why, over HTTP and over the WebSocket."""

from __future__ import annotations

import base64
import os
import signal
import socket
import uuid
from collections.abc import Iterator

import httpx
import orjson
import pytest
from websockets.sync.client import connect

from conftest import FAST_BATCHES, TrackerServer, wait_until


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrackerServer]:
    server = TrackerServer(tmp_path_factory.mktemp("partial") / "data", FAST_BATCHES).start()
    yield server
    if server.running:
        server.stop(signal.SIGKILL)


def batch(vid: str) -> list[dict[str, object]]:
    return [{"vid": vid, "ename": "a"}, {"vid": vid, "ename": {"x": 1}}, {"vid": vid, "ename": "b"}]


def stored(server: TrackerServer, vid: str, expected: int) -> list[str]:
    rows = server.wait_for(f"SELECT ename FROM events WHERE vid = '{vid}' ORDER BY ename", expected)
    return [row["ename"] for row in rows]


REFUSED = {
    "index": 1,
    "status": 400,
    "error": "Field 'ename' must be a string or number, not a JSON object.",
}


def test_http_stores_the_valid_events_and_lists_the_refused_one(served: TrackerServer) -> None:
    vid = str(uuid.uuid4())
    response = httpx.post(served.url + "/tr/v1/tr/", json=batch(vid))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"ok": True, "stored": 2, "refused": [REFUSED]}
    assert stored(served, vid, 2) == ["a", "b"]
    assert "vid=" in response.headers["set-cookie"]  # the stored events' visitor


def test_str_names_the_stored_events_ids_in_the_requests_order(served: TrackerServer) -> None:
    vid = str(uuid.uuid4())
    answer = httpx.post(served.url + "/tr/v1/str/", json=batch(vid)).json()
    assert answer["refused"] == [REFUSED]
    first, missing, last = answer["eids"]
    assert missing is None
    rows = served.wait_for(f"SELECT toString(eid) AS eid FROM events WHERE vid = '{vid}'", 2)
    assert sorted(row["eid"] for row in rows) == sorted([first, last])


def test_a_batch_of_good_events_still_gets_the_empty_200_the_go_clients_expect(
    served: TrackerServer,
) -> None:
    vid = str(uuid.uuid4())
    response = httpx.post(served.url + "/tr/v1/tr/", json=[{"vid": vid, "ename": "ok"}] * 2)
    assert (response.status_code, response.content) == (200, b"")
    single_bad = httpx.post(served.url + "/tr/v1/tr/", json={"vid": vid, "ename": {"x": 1}})
    assert single_bad.status_code == 400  # a request with nothing to store is still refused


def test_websocket_stores_the_valid_events_and_answers_what_it_refused(
    served: TrackerServer,
) -> None:
    vid = str(uuid.uuid4())
    with connect(served.url.replace("http://", "ws://") + "/tr/v1/ws", open_timeout=10) as ws:
        ws.send(orjson.dumps(batch(vid)).decode())
        assert orjson.loads(ws.recv(timeout=20)) == {"ok": True, "stored": 2, "refused": [REFUSED]}
        ws.send("{not json")
        unreadable = orjson.loads(ws.recv(timeout=20))
        assert (unreadable["ok"], unreadable["status"]) == (False, 400)
        ws.send(orjson.dumps({"vid": vid, "ename": "c"}).decode())  # all good: no answer
        ws.send(orjson.dumps({"vid": vid, "ename": {"y": 2}}).decode())
        assert orjson.loads(ws.recv(timeout=20))["status"] == 400  # the next message is this
    assert stored(served, vid, 3) == ["a", "b", "c"]


def test_a_text_frame_that_is_not_utf8_closes_with_1007_and_logs_one_line(
    served: TrackerServer,
) -> None:
    with socket.create_connection(("127.0.0.1", served.port), timeout=20) as sock:
        key = base64.b64encode(os.urandom(16))
        sock.sendall(
            b"GET /tr/v1/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % key
        )
        assert sock.recv(4096).startswith(b"HTTP/1.1 101 ")
        payload, mask = b'{"ename": "\xff\xfe"}', os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + masked)
        assert sock.recv(4096)[:4] == b"\x88\x02" + (1007).to_bytes(2, "big")
    log = wait_until(
        "the server logs the bad frame",
        lambda: served.log.read_text(),
        lambda text: "Invalid UTF-8" in text,
    )
    assert "Traceback" not in log

"""`/tr/v1/ws`: text and LZ4 frames tracked like POSTs, limits, Origin, backpressure."""

from __future__ import annotations

import signal
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import lz4.block
import orjson
import pytest
from websockets.exceptions import ConnectionClosedError, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from conftest import FAST_BATCHES, TrackerServer, serving

GOOD_ORIGIN = "https://good.example"
LIMIT = 4096


@pytest.fixture(scope="module")
def ws_server(store_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrackerServer]:
    root = tmp_path_factory.mktemp("ws")
    config = {**FAST_BATCHES, "AllowOrigin": GOOD_ORIGIN, "MaxBodyBytes": LIMIT}
    with serving(store_kind, root, config, signal.SIGKILL) as server:
        yield server


def ws_url(server: TrackerServer, query: str = "") -> str:
    return server.url.replace("http://", "ws://") + "/tr/v1/ws" + query


def open_ws(
    server: TrackerServer,
    query: str = "",
    headers: dict[str, str] | None = None,
    origin: str | None = GOOD_ORIGIN,
) -> ClientConnection:
    return connect(
        ws_url(server, query),
        origin=origin,  # type: ignore[arg-type]
        additional_headers=headers or {},
        open_timeout=10,
    )


def rows_for(server: TrackerServer, vid: str, expected: int) -> list[dict[str, Any]]:
    return server.wait_for(
        f"SELECT ename, uid, campaign, toString(vid) AS vid FROM events WHERE vid = '{vid}' "
        "ORDER BY ename",
        expected,
    )


def close_code(ws: ClientConnection) -> int | None:
    """Wait for the server to close the connection (it never sends data) and return its code."""
    with pytest.raises(ConnectionClosedError) as info:
        ws.recv(timeout=20)
    assert info.value.rcvd is not None
    return info.value.rcvd.code


def dropped(server: TrackerServer, reason: str) -> int:
    count: int = httpx.get(server.url + "/metrics").json()["dropped"][reason]
    return count


@pytest.mark.both_stores
def test_text_frame_with_a_json_object_is_stored_as_a_client_event(
    ws_server: TrackerServer,
) -> None:
    vid, uid = str(uuid.uuid4()), str(uuid.uuid4())
    with open_ws(ws_server) as ws:
        ws.send(orjson.dumps({"vid": vid, "uid": uid, "ename": "Text_Frame"}).decode())
    assert rows_for(ws_server, vid, 1)[0]["ename"] == "text_frame"
    # userhosts is written for client events only, and /ws messages are client events, as in Go
    assert ws_server.wait_for(f"SELECT uid FROM userhosts WHERE vid = '{vid}'", 1) == [{"uid": uid}]


@pytest.mark.both_stores
def test_binary_frame_is_decompressed_from_lz4_and_stored(ws_server: TrackerServer) -> None:
    vid = str(uuid.uuid4())
    frame = lz4.block.compress(orjson.dumps({"vid": vid, "ename": "lz4_frame", "x": "y" * 300}))
    assert int.from_bytes(frame[:4], "little") > len(frame) - 4  # really compressed
    with open_ws(ws_server) as ws:
        ws.send(frame)
    assert rows_for(ws_server, vid, 1)[0]["ename"] == "lz4_frame"


@pytest.mark.both_stores
def test_upgrade_cookies_user_header_and_query_apply_to_every_message(
    ws_server: TrackerServer,
) -> None:
    vid, uid = str(uuid.uuid4()), str(uuid.uuid4())
    headers = {"Cookie": f"vid={vid}", "User": orjson.dumps({"uid": uid}).decode()}
    with open_ws(ws_server, "?utm_campaign=spring", headers) as ws:
        ws.send('{"ename": "first"}')
        ws.send(lz4.block.compress(b'{"ename": "second"}'))
    rows = rows_for(ws_server, vid, 2)
    assert rows == [
        {"ename": "first", "uid": uid, "campaign": "spring", "vid": vid},
        {"ename": "second", "uid": uid, "campaign": "spring", "vid": vid},
    ]


@pytest.mark.both_stores
def test_json_array_message_is_a_batch_of_events(ws_server: TrackerServer) -> None:
    vid = str(uuid.uuid4())
    with open_ws(ws_server, headers={"Cookie": f"vid={vid}"}) as ws:
        ws.send('[{"ename": "one"}, {"ename": "two"}, {"ename": "three"}]')
    assert [r["ename"] for r in rows_for(ws_server, vid, 3)] == ["one", "three", "two"]


def test_null_non_objects_and_broken_frames_are_skipped_and_the_connection_stays_open(
    ws_server: TrackerServer,
) -> None:
    vid = str(uuid.uuid4())
    invalid_before = dropped(ws_server, "invalid")
    skipped: list[str | bytes] = [
        "null",  # Go recorded an event from cookies alone for this
        "42",
        '"text"',
        "[1, 2]",
        "{not json",
        "",
        b"\x01\x00",  # shorter than the LZ4 length
        b"\x00\x00\x00\x00",  # declares 0 bytes
        b"\x10\x00\x00\x00garbage",  # not an LZ4 block
        lz4.block.compress(b"[null]"),
    ]
    with open_ws(ws_server, headers={"Cookie": f"vid={vid}"}) as ws:
        for message in skipped:
            ws.send(message)
        ws.send('{"ename": "after_the_skips"}')
        assert ws.ping().wait(10)  # the server still answers on this connection
    assert [r["ename"] for r in rows_for(ws_server, vid, 1)] == ["after_the_skips"]
    assert dropped(ws_server, "invalid") - invalid_before == len(skipped)


def test_declared_lz4_length_over_the_limit_closes_with_1009_before_decompressing(
    ws_server: TrackerServer,
) -> None:
    oversize_before = dropped(ws_server, "oversize")
    # 2 GiB declared, a few bytes sent: decompressing would try to allocate the declared size,
    # and the garbage block would otherwise be skipped as invalid with the connection left open.
    with open_ws(ws_server) as ws:
        ws.send((0x7E000000).to_bytes(4, "little") + b"\x1f" + b"a" * 16)
        assert close_code(ws) == 1009
    with open_ws(ws_server) as ws:
        ws.send(lz4.block.compress(b"{" + b" " * LIMIT + b"}"))  # small frame, large message
        assert close_code(ws) == 1009
    assert dropped(ws_server, "oversize") - oversize_before == 2


def test_text_message_over_the_limit_closes_with_1009(ws_server: TrackerServer) -> None:
    vid = str(uuid.uuid4())
    with open_ws(ws_server) as ws:
        ws.send(orjson.dumps({"vid": vid, "pad": "x" * LIMIT}).decode())
        assert close_code(ws) == 1009
    assert rows_for(ws_server, vid, 0) == []


def test_origin_not_allowed_by_allow_origin_is_refused_with_403(ws_server: TrackerServer) -> None:
    with pytest.raises(InvalidStatus) as info:
        open_ws(ws_server, origin="https://evil.example")
    response = info.value.response
    assert response.status_code == 403
    assert orjson.loads(response.body or b"") == {
        "ok": False,
        "error": "This Origin is not allowed (AllowOrigin).",
        "status": 403,
    }


def test_client_without_origin_header_is_accepted(ws_server: TrackerServer) -> None:
    vid = str(uuid.uuid4())
    with open_ws(ws_server, origin=None) as ws:
        ws.send(orjson.dumps({"vid": vid, "ename": "no_origin"}).decode())
    assert [r["ename"] for r in rows_for(ws_server, vid, 1)] == ["no_origin"]


def test_plain_http_on_the_websocket_route_gets_426_and_options_the_preflight(
    ws_server: TrackerServer,
) -> None:
    response = httpx.post(ws_server.url + "/tr/v1/ws", content=b"{}")
    assert response.status_code == 426
    assert response.json()["status"] == 426
    assert response.headers["sec-websocket-version"] == "13"
    preflight = httpx.options(ws_server.url + "/tr/v1/ws", headers={"Origin": GOOD_ORIGIN})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == GOOD_ORIGIN


def test_full_spool_closes_the_connection_with_1013_and_counts_the_drop(
    make_server: Any,
) -> None:
    # Rows wait a minute in their batch, so the spool's single byte of room stays taken.
    slow = {
        "ApiVersion": 1,
        "Notify": [{"Service": "clickhouse", "Context": "sfpla", "MaxBatchTime": "60s"}],
    }
    server = make_server(config={**slow, "SpoolMaxBytes": 1})
    with open_ws(server, origin=None) as ws:
        ws.send('{"ename": "fits"}')
        ws.send('[{"ename": "no_room"}, {"ename": "no_room_either"}]')
        assert close_code(ws) == 1013
    assert dropped(server, "spool_full") == 2
    assert server.stop() == 0
    assert [r["ename"] for r in server.query("SELECT ename FROM events")] == ["fits"]

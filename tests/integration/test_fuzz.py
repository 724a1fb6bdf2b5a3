"""Property-based fuzzing of the tracking routes and the WebSocket against a real server.

Whatever a client sends: no 5xx, the connection and the server stay up, every event the answer
says was taken is stored (and only those), and nothing grows without bound. The example count is
kept small by default (~40 s); set FUZZ_EXAMPLES to fuzz longer.
"""

from __future__ import annotations

import json
import os
import signal
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.sync.client import connect

from conftest import FAST_BATCHES, TrackerServer

# 60 examples (~40 s here) in every run; FUZZ_EXAMPLES=1000 (say) fuzzes longer by hand.
settings.register_profile(
    "fuzz",
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
PROFILE = "fuzz"

KEYS = st.one_of(
    st.sampled_from(
        [
            *("vid", "sid", "uid", "eid", "url", "last", "params", "targets", "cflags", "etyp"),
            *("tz", "email", "ehash", "lat", "lon", "w", "h", "country", "acct", "oid", "tid"),
        ]
    ),
    st.text(min_size=0, max_size=12),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(["", "null", "NaN", "1e999", "2026-13-40", str(uuid.uuid4()), "{", "[1,"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
EVENT = st.dictionaries(KEYS.filter(lambda k: k != "ename"), VALUES, max_size=8)


@st.composite
def batches(draw: st.DrawFn) -> list[dict[str, Any]]:
    return draw(st.lists(EVENT, min_size=1, max_size=6))


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrackerServer]:
    server = TrackerServer(tmp_path_factory.mktemp("fuzz") / "data", FAST_BATCHES).start()
    yield server
    if server.running:
        server.stop(signal.SIGKILL)


SENTINEL = b"\x01"  # a binary message too short for its LZ4 length
SENTINEL_ERROR = "A binary message must start with a 4-byte LZ4 length."


def encode(value: object) -> bytes:
    """JSON as a client may send it: integers of any size (orjson refuses those past 64 bits)."""
    return json.dumps(value, allow_nan=False).encode()


def header_value(value: str | bytes) -> bytes:
    """Any bytes a header value can carry (HTTP allows no control character but the tab), UTF-8
    or not."""
    raw = value.encode("utf-8", "surrogatepass") if isinstance(value, str) else value
    return bytes(b for b in raw if b == 0x09 or 0x20 <= b != 0x7F).strip()


def taken(answer: httpx.Response, sent: int) -> int:
    """How many events the answer says were stored."""
    if answer.status_code != 200:
        return 0
    if answer.content and answer.headers.get("content-type") == "application/json":
        body = orjson.loads(answer.content)
        if isinstance(body, dict):
            stored: int = body["stored"]
            return stored
    return sent


def stored_count(server: TrackerServer, marker: str) -> int:
    rows = server.query(f"SELECT count() AS n FROM events WHERE ename = '{marker}'")
    return int(rows[0]["n"])


def test_fuzzed_tracking_requests_never_fail_the_server_and_store_what_they_took(
    fuzzed: TrackerServer,
) -> None:
    expected: dict[str, int] = {}

    @settings(settings.get_profile(PROFILE))
    @given(
        route=st.sampled_from(["tr", "str", "img"]),
        events=batches(),
        query=st.dictionaries(KEYS, st.text(max_size=20), max_size=4),
        cookie=st.text(max_size=40),
        user=st.one_of(st.none(), st.text(max_size=30), VALUES.map(encode)),
        raw_tail=st.one_of(st.none(), st.binary(max_size=30)),
    )
    def request(
        route: str,
        events: list[dict[str, Any]],
        query: dict[str, str],
        cookie: str,
        user: str | bytes | None,
        raw_tail: bytes | None,
    ) -> None:
        marker = f"fuzz_{uuid.uuid4().hex}"
        body = [{**event, "ename": marker} for event in events]
        content = encode(body) + (raw_tail or b"")
        headers = {b"cookie": header_value(cookie)}
        if user is not None:
            headers[b"user"] = header_value(user)
        query = {k: v for k, v in query.items() if k != "ename"}
        answer = httpx.post(
            f"{fuzzed.url}/tr/v1/{route}/",
            content=content,
            params=query,
            headers=headers,
            timeout=30,
        )
        assert answer.status_code < 500, answer.text
        if raw_tail:
            return  # not JSON: refused whole, or a form body; nothing to count on
        if route == "img":
            return  # the pixel says nothing about what was taken
        expected[marker] = taken(answer, len(body))

    request()
    fuzzed.caught_up()
    for marker, count in expected.items():
        assert stored_count(fuzzed, marker) == count, marker
    metrics = httpx.get(fuzzed.url + "/metrics").json()
    assert metrics["batching"]["queued_items"] == 0
    assert metrics["process"]["max_rss_mb"] < 2048  # nothing grew without bound
    assert httpx.get(fuzzed.url + "/health").status_code == 200


def test_fuzzed_websocket_messages_keep_the_connection_and_store_what_they_took(
    fuzzed: TrackerServer,
) -> None:
    expected: dict[str, int] = {}
    url = fuzzed.url.replace("http://", "ws://") + "/tr/v1/ws"
    # No keepalive pings: they draw from `random` on their own thread, which Hypothesis takes for
    # a strategy using it.
    with connect(url, open_timeout=10, max_size=None, ping_interval=None) as ws:

        @settings(settings.get_profile(PROFILE))
        @given(events=batches(), garbage=st.one_of(st.none(), st.text(max_size=30)))
        def message(events: list[dict[str, Any]], garbage: str | None) -> None:
            marker = f"fuzz_{uuid.uuid4().hex}"
            body = [{**event, "ename": marker} for event in events]
            ws.send(garbage if garbage is not None else encode(body).decode())
            # Messages are answered in order, and this one always is, with its own error: what
            # comes before it is the answer to the fuzzed message, if it has one.
            ws.send(SENTINEL)
            answers = []
            while True:
                got = orjson.loads(ws.recv(timeout=30))
                if got.get("error") == SENTINEL_ERROR:
                    break
                answers.append(got)
            assert len(answers) <= 1, answers
            answer = answers[0] if answers else None
            if garbage is not None:
                return
            if answer is None:
                expected[marker] = len(body)
            else:
                assert answer.get("status", 200) < 500, answer
                expected[marker] = answer.get("stored", 0)

        message()
    fuzzed.caught_up()
    for marker, count in expected.items():
        assert stored_count(fuzzed, marker) == count, marker

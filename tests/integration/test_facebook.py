"""The Facebook Conversions API sink against a local Graph API that checks Meta's payload rules."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import httpx
import orjson
from tests.conftest import TrackerServer, wait_until
from tests.integration.backends import GraphApi, metrics

VID = "14fb0860-b4bf-11e9-8971-7b80435315ac"


def config(api: GraphApi, **service: Any) -> dict[str, Any]:
    return {
        "CFlagsMarketing": 4096 | 1024,
        "UseRemoveIP": False,
        "Notify": [
            {"Service": "clickhouse", "MaxBatchSize": 100, "MaxBatchTime": "0.2s"},
            {
                "Service": "facebook",
                "Context": "1234567890",
                "Key": "secret-token",
                "GraphApiUrl": api.url,
                "GraphApiVersion": "v24.0",
                "MaxBatchTime": "0.2s",
                **service,
            },
        ],
    }


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_consented_events_reach_the_conversions_api_hashed_and_batched(
    make_server: Any, graph_api: GraphApi
) -> None:
    server: TrackerServer = make_server(config=config(graph_api))
    with httpx.Client(base_url=server.url, headers={"User-Agent": "Mozilla/5.0 test"}) as client:
        event = {
            "vid": VID,
            "ename": "Purchase",
            "fbx": 1,
            "cflags": 4096 | 1024 | 1,
            "email": "  Jane.Doe@Example.COM ",
            "cell": "+1 (650) 555-0100",
            "url": "https://shop.example/checkout?step=2",
            "value": "99.5",
            "currency": "usd",
            "fbp": "fb.1.1596403881668.1116446470",
            "country": "US",
            "city": "San Francisco",
            "zip": "94107-1234",
        }
        assert client.post("/tr/v1/tr/", json=event).status_code == 200
        # Not sent: a marketing bit missing (the Go tracker's numeric test let 8192 through),
        # no `fbx` (AttemptAll is off), and no cflags at all (CFlagsIgnore is off).
        for other in ({"cflags": 8192, "fbx": 1}, {"cflags": 5120}, {"fbx": 1}):
            body = {"vid": VID, "ename": "Lead", **other}
            assert client.post("/tr/v1/tr/", json=body).status_code == 200
        batch = [
            {"vid": VID, "ename": f"custom_{i}", "fbx": 1, "cflags": 5120} for i in range(1001)
        ]
        assert client.post("/tr/v1/tr/", json=batch).status_code == 200

    wait_until("all 1002 events sent", graph_api.names, lambda names: len(names) >= 1002)
    server.caught_up()
    assert graph_api.problems == []
    names = graph_api.names()
    assert len(names) == 1002
    assert "Lead" not in names
    assert max(r["events"] for r in graph_api.requests) <= 1000
    purchase = next(e for e in graph_api.accepted if e["event_name"] == "Purchase")
    user = purchase["user_data"]
    assert user["em"] == sha("jane.doe@example.com")
    assert user["ph"] == sha("16505550100")
    assert user["ct"] == sha("sanfrancisco")
    assert user["zp"] == sha("94107")
    assert user["country"] == sha("us")
    assert user["external_id"] == sha(VID)
    assert user["client_user_agent"] == "Mozilla/5.0 test"
    assert user["client_ip_address"] == "127.0.0.1"
    assert user["fbp"] == "fb.1.1596403881668.1116446470"
    assert purchase["custom_data"] == {"value": 99.5, "currency": "USD"}
    assert purchase["action_source"] == "website"
    assert purchase["event_source_url"] == "https://shop.example/checkout?step=2"
    stored = server.query("SELECT toString(eid) AS eid FROM events WHERE ename = 'purchase'")
    assert [row["eid"] for row in stored] == [purchase["event_id"]]
    # What the spool and ClickHouse keep: no clear email or phone anywhere.
    spool = b"".join(p.read_bytes() for p in (server.data_dir / "spool").glob("*.log"))
    assert b"Jane.Doe" not in spool
    assert b"555-0100" not in spool
    sink = metrics(server.url)["spool"]["sinks"]["facebook"]
    assert sink["rows"] == 1002
    assert len(graph_api.requests) >= 2  # 1002 events: at least two requests


def test_failures_are_retried_and_refused_events_go_to_the_dead_letter_file(
    make_server: Any, graph_api: GraphApi, tmp_path: Path
) -> None:
    graph_api.script = [500, 429, 500]
    server: TrackerServer = make_server(config={**config(graph_api), "CFlagsIgnore": True})
    with httpx.Client(base_url=server.url, headers={"User-Agent": "Mozilla/5.0 test"}) as client:
        for name in ("first", "refuse_me", "third"):
            body = {"vid": VID, "ename": name, "fbx": True}
            assert client.post("/tr/v1/tr/", json=body).status_code == 200

    wait_until("both good events sent", graph_api.names, lambda n: {"first", "third"} <= set(n))
    assert graph_api.script == []  # the 500, 429 and 500 were answered and retried
    dead = server.data_dir / "deadletter" / "facebook.jsonl"
    letters = wait_until("the refused event is dead-lettered", lambda: dead.exists() and dead)
    rows = [orjson.loads(line) for line in letters.read_bytes().splitlines()]
    assert [orjson.loads(r["row"])["event_name"] for r in rows] == ["refuse_me"]
    assert "refuse_me is not allowed" in rows[0]["reason"]
    assert graph_api.names().count("first") >= 1
    assert "refuse_me" not in graph_api.names()
    sink = metrics(server.url)["spool"]["sinks"]["facebook"]
    assert sink["failed_batches"] >= 1
    assert sink["dead_letters"] == 1
    after = [r["at"] for r in graph_api.requests]
    i = next(i for i, r in enumerate(graph_api.requests) if r.get("status") == 429)
    assert after[i + 1] - after[i] >= 0.9  # its Retry-After: 1 was honoured
    text = httpx.get(server.url + "/metrics?format=prometheus").text
    assert 'tracker_sink_dead_letters_total{sink="facebook"} 1.0' in text

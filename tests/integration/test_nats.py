"""NATS against a real nats-server with JetStream: publishing, consuming, outages and a kill -9."""

from __future__ import annotations

import asyncio
import signal
import time
from typing import Any

import httpx
import nats
import orjson
from tests.conftest import TrackerServer, wait_until
from tests.integration.backends import NatsServer, metrics

SUBJECT = "toc.track.notify"


def config(server: NatsServer, consume: bool = False) -> dict[str, Any]:
    result: dict[str, Any] = {
        "CircuitBreakerResetSeconds": 0.5,
        "Notify": [
            {"Service": "clickhouse", "MaxBatchSize": 200, "MaxBatchTime": "0.2s"},
            {
                "Service": "nats",
                "Hosts": [server.url],
                "Context": SUBJECT,
                "MaxBatchTime": "0.1s",
                "Timeout": 1000,
            },
        ],
    }
    if consume:
        filters = [
            {"Id": "tic.count.>", "Alias": "count"},
            {"Id": "tic.update.>", "Alias": "update"},
            {"Id": "tic.log.>", "Alias": "log"},
        ]
        result["Consume"] = [{"Service": "nats", "Hosts": [server.url], "Filter": filters}]
    return result


def published_eids(server: NatsServer) -> list[str]:
    return [m["eid"] for m in server.stream_messages("TRACK", SUBJECT)]


def test_events_are_published_to_jetstream_and_consumed_messages_are_stored(
    make_server: Any, nats_server: NatsServer
) -> None:
    nats_server.add_stream("TRACK", [SUBJECT])
    nats_server.add_stream("TIC_LOG", ["tic.log.>"])
    tracker: TrackerServer = make_server(config=config(nats_server, consume=True))
    with httpx.Client(base_url=tracker.url) as client:
        ids = [
            client.post("/tr/v1/str/", json={"ename": "pub", "etyp": str(i)}).json()
            for i in range(20)
        ]
    found = wait_until(
        "20 events published", lambda: published_eids(nats_server), lambda e: len(e) >= 20
    )
    assert sorted(found) == sorted(ids)  # each once, as JSON events rows
    message = nats_server.stream_messages("TRACK", SUBJECT)[0]
    assert message["ename"] == "pub"
    assert message["eid"] in ids

    wait_until(
        "the consumer subscribed its three subjects",
        lambda: metrics(tracker.url)["sources"]["nats-consume"]["subscribed"],
        lambda n: n == 3,
    )

    async def send() -> None:
        client = await nats.connect(nats_server.url)
        for _ in range(3):
            await client.publish("tic.count.signups", b"{}")
        await client.publish(
            "tic.update.user-1", orjson.dumps({"msg": "hello", "updated": "1764201600000"})
        )
        await client.publish("tic.count.bad", b"not json")
        log = {
            "topic": "billing",
            "name": "job",
            "level": 3.0,
            "msg": "done",
            "ip": "10.1.2.3",
            "ltimenss": "1764201600123456789",
            "params": '{"k": "v"}',
        }
        await client.jetstream().publish("tic.log.app", orjson.dumps(log))
        await client.flush()
        await client.close()

    asyncio.run(send())
    counters = tracker.wait_until(
        "SELECT id, sum(total) AS n FROM counters WHERE id LIKE 'tic.%' GROUP BY id",
        lambda rows: (
            rows == [{"id": "tic.count.signups", "n": "3"}]
            or rows == [{"id": "tic.count.signups", "n": 3}]
        ),
        "three counts of tic.count.signups",
    )
    assert len(counters) == 1
    updates = tracker.wait_for("SELECT id, msg, toString(updated_at) AS at FROM updates", 1)
    assert updates == [{"id": "tic.update.user-1", "msg": "hello", "at": "2025-11-27 00:00:00.000"}]
    logs = tracker.wait_for(
        "SELECT topic, name, level, msg, ip, iphash != '' AS hashed, toString(ltime) AS ltime, "
        "toString(params) AS params FROM logs",
        1,
    )
    assert logs == [
        {
            "topic": "billing",
            "name": "job",
            "level": 3,
            "msg": "done",
            "ip": "10.1.2.3",
            "hashed": True,
            "ltime": "2025-11-27 00:00:00.123456789",
            "params": '{"k":"v"}',
        }
    ]
    source = metrics(tracker.url)["sources"]["nats-consume"]
    assert source["messages"] == 5
    assert source["refused"] == 1

    async def pending() -> int:
        client = await nats.connect(nats_server.url)
        info = await client.jetstream().consumer_info("TIC_LOG", "tracker_tic_log__")
        await client.close()
        return int(info.num_ack_pending + info.num_pending)

    assert asyncio.run(pending()) == 0  # acknowledged once spooled


def test_a_nats_outage_under_load_and_a_kill_9_lose_nothing_and_hold_back_nothing_else(
    make_server: Any, nats_server: NatsServer
) -> None:
    nats_server.add_stream("TRACK", [SUBJECT])
    tracker: TrackerServer = make_server(config=config(nats_server))
    acked: list[str] = []
    with httpx.Client(base_url=tracker.url) as client:
        for i in range(50):
            acked.append(client.post("/tr/v1/str/", json={"ename": "load", "etyp": str(i)}).json())
        wait_until(
            "the first events published",
            lambda: published_eids(nats_server),
            lambda e: len(e) >= 50,
        )
        nats_server.stop()
        outage = time.monotonic()
        during: list[str] = []
        while time.monotonic() - outage < 5:  # requests all through the outage
            response = client.post("/tr/v1/str/", json={"ename": "load", "etyp": "outage"})
            assert response.status_code == 200
            during.append(response.json())
            time.sleep(0.02)
        # ClickHouse is not held back: what was sent during the outage is stored meanwhile.
        tracker.wait_until(
            "SELECT count() AS n FROM events WHERE ename = 'load'",
            lambda rows: int(rows[0]["n"]) == 50 + len(during),
            "every event in ClickHouse while NATS is down",
            timeout=10,
        )
        sink = wait_until(
            "the NATS writer reports its failures",
            lambda: metrics(tracker.url)["spool"]["sinks"]["nats"],
            lambda sink: sink["failed_batches"] >= 1,
        )
        assert sink["cursor_lag_bytes"] > 0
    acked += during
    assert tracker.process is not None
    tracker.process.send_signal(signal.SIGKILL)  # the tracker dies with the backlog unsent
    tracker.process.wait(10)
    tracker.process = None

    nats_server.start()
    again: TrackerServer = make_server(config=config(nats_server), data_dir=tracker.data_dir)
    found = wait_until(
        f"all {len(acked)} acknowledged events published after the outage and the restart",
        lambda: published_eids(nats_server),
        lambda eids: set(acked) <= set(eids),
        timeout=60,
        seen=lambda eids: f"{len(set(acked) - set(eids))} missing",
    )
    assert len(found) == len(set(found))  # JetStream kept each once (Nats-Msg-Id)
    again.caught_up()
    assert again.stop() == 0

"""A client sending ever new keys cannot grow the store's files (nor use up descriptors) without
limit: the store's JSON columns bound their paths, and each event keeps at most `MaxParamKeys`."""

from __future__ import annotations

import os
import random
import string
from pathlib import Path
from typing import Any

import httpx

from conftest import TrackerServer

POSTS = 6
EVENTS_PER_POST = 50
KEYS_PER_EVENT = 25


def files_under(path: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(path))


def test_ever_new_keys_add_a_bounded_number_of_files_per_part(make_server: Any) -> None:
    config = {
        "ApiVersion": 1,
        "BatchPolicies": {"events": {"Strategy": "size", "MaxBatchSize": 50}},
    }
    server: TrackerServer = make_server(config=config)
    # Every part wide (one file set per path), as the big parts of a busy store are.
    server.query("ALTER TABLE events MODIFY SETTING min_bytes_for_wide_part = 0")
    store = server.data_dir / "clickhouse"
    before = files_under(store)
    rng = random.Random(12)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for _ in range(POSTS):  # one insert each: 1,250 new keys per part
            batch = [
                {
                    "ename": "hostile",
                    **{
                        "".join(rng.choices(string.ascii_lowercase, k=10)): rng.random()
                        for _ in range(KEYS_PER_EVENT)
                    },
                }
                for _ in range(EVENTS_PER_POST)
            ]
            assert client.post("/tr/v1/tr/", json=batch).status_code == 200
    server.wait_until(
        "SELECT count() AS n FROM events",
        lambda rows: rows[0]["n"] == POSTS * EVENTS_PER_POST,
        "every event is stored",
    )
    per_part = (files_under(store) - before) / POSTS
    # ClickHouse's default JSON type made ~10,000 files for each such part (8 files per path, up
    # to 1,024 paths); bounded to 32 paths, a part has a few hundred.
    assert per_part < 1000, per_part
    params = server.query("SELECT params FROM events LIMIT 1")[0]["params"]
    params.pop("bot", None)  # httpx's User-Agent is a bot's
    assert len(params) == KEYS_PER_EVENT  # all of them still stored and read back


def test_an_event_keeps_max_param_keys_and_the_rest_are_counted(server: TrackerServer) -> None:
    many = {"ename": "many", "params": {f"p{i:03}": i for i in range(130)}}
    assert httpx.post(server.url + "/tr/v1/tr/", json=many).status_code == 200
    [row] = server.wait_for("SELECT params FROM events WHERE ename = 'many'", 1)
    row["params"].pop("bot", None)  # ours, added after the bound
    assert sorted(row["params"]) == [f"p{i:03}" for i in range(100)]
    metrics = httpx.get(server.url + "/metrics").json()
    assert metrics["dropped_keys"] == {"too_many_keys": 30}
    assert metrics["dropped"]["invalid"] == 0  # the event itself was stored

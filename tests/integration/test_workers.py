"""`tracker serve --workers 2`: requests spread over two HTTP worker processes on one port, each
acknowledged event stored once, `tracker query` meanwhile, and nothing lost or doubled when a
worker or the store owner is killed with SIGKILL under load (real processes, real sockets)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx
from tests.conftest import WAIT, TrackerServer, cli, parse_rows, wait_until
from tests.integration.test_durability import hammer, stored_counts, wait_stored

from tracker.control import remote_command
from tracker.datadir import DataDir
from tracker.errors import TrackerError

STARTING = 90.0  # a worker process starting on a loaded machine (only reached when one never does)
TWO_WORKERS = {
    "Workers": 2,
    "Notify": [
        {"Service": "clickhouse", "Context": "sfpla", "MaxBatchSize": 200, "MaxBatchTime": "0.2s"}
    ],
}


def worker_of(response: httpx.Response) -> tuple[str, int]:
    """(worker index, worker PID) from the debug header every worker adds."""
    index, _, pid = response.headers["x-tracker-worker"].partition("/")
    return index, int(pid)


def tracked_by_both(server: TrackerServer, seen: dict[str, set[int]]) -> list[str]:
    """Send events, each on a new connection, until both workers answered some; their eids."""
    acked: list[str] = []

    def send() -> dict[str, set[int]]:
        for _ in range(10):
            response = httpx.post(
                f"{server.url}/tr/v1/str/",
                json={"ename": "crash_test"},
                headers={"connection": "close"},
                timeout=10,
            )
            assert response.status_code == 200, response.text
            acked.append(response.json())
            index, pid = worker_of(response)
            seen.setdefault(index, set()).add(pid)
        return seen

    wait_until(
        "both workers answered",
        send,
        lambda seen: set(seen) == {"0", "1"} and len(acked) >= 40,
        timeout=STARTING,
        interval=0.1,
    )
    return acked


def test_two_workers_share_the_port_store_each_event_once_and_survive_kill_9(
    make_server: Any, tmp_path: Path
) -> None:
    """One server for both parts (starting three processes is most of the time)."""
    server: TrackerServer = make_server(config=TWO_WORKERS)
    seen: dict[str, set[int]] = {}
    first = tracked_by_both(server, seen)
    assert len({pid for pids in seen.values() for pid in pids}) == 2  # two processes
    wait_stored(server, first)
    # `tracker query` reaches the store while the workers and the owner run.
    assert server.config_path is not None
    out = cli(
        "query",
        str(server.config_path),
        "--data-dir",
        str(server.data_dir),
        "--format",
        "JSONEachRow",
        "SELECT count() AS n, uniqExact(eid) AS u FROM events WHERE ename = 'crash_test'",
    ).stdout
    assert parse_rows(out) == [{"n": len(first), "u": len(first)}]
    # /metrics on any worker adds up every worker's figures, and lists the workers.
    server.caught_up()
    metrics = httpx.get(server.url + "/metrics", timeout=10).json()
    assert metrics["metrics"]["event_count"] == len(first)
    assert sorted(w["worker"] for w in metrics["workers"]) == ["worker-0", "worker-1"]
    assert metrics["batching"]["total_items"] >= len(first)
    assert httpx.get(server.url + "/health", timeout=10).status_code == 200

    # Under load: SIGKILL worker 0, then the store owner.
    acked = set(first)
    worker_pid = next(iter(seen["0"]))
    owner_pid = DataDir(server.data_dir).owner_pid()
    assert owner_pid is not None

    async def crash() -> None:
        stop = asyncio.Event()
        sending = asyncio.create_task(hammer(server.url, acked, stop))

        async def into_the_load(count: int) -> None:
            deadline = time.monotonic() + WAIT
            while len(acked) < count:
                assert time.monotonic() < deadline, f"{count} acknowledged: only {len(acked)}"
                assert not sending.done(), "the load stopped early"
                await asyncio.sleep(0.01)

        await into_the_load(len(acked) + 300)
        os.kill(worker_pid, signal.SIGKILL)
        await into_the_load(len(acked) + 300)  # the other worker (and the restarted one) go on
        os.kill(owner_pid, signal.SIGKILL)
        await into_the_load(len(acked) + 300)  # the workers take events without the owner
        stop.set()
        await sending

    asyncio.run(crash())
    # The supervisor started a new worker 0 and a new owner.
    wait_until(
        "a new worker 0 answers",
        lambda: {worker_of(r)[1] for r in _fresh_answers(server, 10) if worker_of(r)[0] == "0"},
        lambda pids: bool(pids) and worker_pid not in pids,
        timeout=STARTING,
        interval=0.2,
    )
    wait_until(
        "a new store owner answers on the control socket",
        lambda: (DataDir(server.data_dir).owner_pid(), _answers(server)),
        lambda seen: seen[0] not in (None, owner_pid) and seen[1],
        timeout=STARTING,
    )
    wait_stored(server, acked, timeout=60)  # replayed by the running tracker, not its shutdown
    assert server.stop() == 0
    stored = stored_counts(server)
    missing = acked - stored.keys()
    assert not missing, f"{len(missing)} acknowledged events lost"
    duplicated = {eid: n for eid, n in stored.items() if n != 1}
    assert not duplicated, f"{len(duplicated)} events stored more than once"


def _answers(server: TrackerServer) -> bool:
    """The owner's control socket answers (it takes the lock before it listens)."""
    try:
        remote_command(server.data_dir / "tracker.sock", "health", timeout=5)
    except TrackerError:
        return False
    return True


def _fresh_answers(server: TrackerServer, count: int) -> list[httpx.Response]:
    answers = []
    for _ in range(count):
        try:
            answers.append(
                httpx.get(f"{server.url}/ping", headers={"connection": "close"}, timeout=5)
            )
        except httpx.HTTPError:
            continue
    return answers


def test_a_single_process_writes_what_worker_spools_left_behind(
    make_server: Any, tmp_path: Path
) -> None:
    """Lowering `Workers` to 1 strands nothing: the single process also writes `worker-K/`."""
    from tracker.spool.shared import open_worker_spool, worker_dir

    data_dir = tmp_path / "left"
    eids = [f"0190a7d4-0000-7000-8000-00000000000{i}" for i in range(3)]

    async def leave() -> None:
        spool, state = open_worker_spool(worker_dir(data_dir / "spool", 1), 2**30)
        for eid in eids:
            row = f'{{"eid": "{eid}", "ename": "crash_test", "etyp": "left"}}'.encode()
            await spool.append([("events", row)])
        spool.close()
        state.close()

    asyncio.run(leave())
    server: TrackerServer = make_server(config=TWO_WORKERS | {"Workers": 1}, data_dir=data_dir)
    wait_stored(server, eids)
    assert server.stop() == 0
    assert stored_counts(server) == dict.fromkeys(eids, 1)

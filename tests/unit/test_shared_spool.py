"""A worker's spool as the store owner reads it (`Workers` > 1), and what `Workers` refuses."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tracker.cli.common import UsageError
from tracker.cli.supervisor import check
from tracker.config import load_settings
from tracker.spool import decode
from tracker.spool.shared import (
    SharedState,
    ensure_epoch,
    open_reader_spool,
    open_worker_spool,
    worker_dir,
    worker_dirs,
)


def test_the_owner_reads_up_to_the_published_durable_end_and_the_worker_reclaims(
    tmp_path: Path,
) -> None:
    directory = worker_dir(tmp_path / "spool", 0)
    spool, state = open_worker_spool(directory, 2**30)
    reader = open_reader_spool(directory, 2**30)
    assert reader.epoch == spool.epoch  # the same tokens whoever reads

    async def append(n: int) -> None:
        for i in range(n):
            await spool.append([("events", b'{"n": %d}' % i)])

    asyncio.run(append(3))
    assert reader.end == spool.end > 0  # published before the requests were answered
    entries = reader.read(0, 2**20)
    assert [decode(e.payload) for e in entries] == [
        [("events", b'{"n": %d}' % i)] for i in range(3)
    ]
    # Nothing past the published durable end is read, even when the file holds more.
    durable = state.durable
    state.publish_durable(entries[1].end)
    assert [e.end for e in reader.read(0, 2**20)] == [entries[0].end, entries[1].end]
    state.publish_durable(durable)
    # The owner releases; the worker (and only it) deletes, and counts the space free again.
    assert spool.size_bytes == spool.end
    reader.release(spool.end)
    assert SharedState(directory).released == spool.end
    spool.release(state.released)
    assert spool.size_bytes == 0
    with pytest.raises(OSError, match="never written"):
        reader.log.append(b"x")
    spool.close()
    reader.log.close()


def test_worker_spools_are_found_by_index_and_the_epoch_is_made_once(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    for index in (10, 2, 0):
        worker_dir(root, index).mkdir(parents=True)
    (root / "worker-x").mkdir()
    assert [p.name for p in worker_dirs(root)] == ["worker-0", "worker-2", "worker-10"]
    assert ensure_epoch(root / "worker-0") == ensure_epoch(root / "worker-0")


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"SpoolMode": "memory"}, "SpoolMode durable"),
        ({"UseAcme": True, "Domains": ["example.com"]}, "UseAcme"),
        ({"Notify": [{"Service": "duckdb", "Context": "x.duckdb"}]}, "duckdb"),
    ],
)
def test_more_than_one_worker_refuses_what_it_cannot_do(
    tmp_path: Path, extra: dict[str, object], named: str
) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"Workers": 2, **extra}))
    settings, _ = load_settings(config, env={})
    with pytest.raises(UsageError, match=named):
        check(settings)
    settings, _ = load_settings(None, env={"TRACKER_WORKERS": "2"})
    check(settings)  # the defaults are fine
    assert settings.workers == 2

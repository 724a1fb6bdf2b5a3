"""The spool's log on disk: framing, group commit, segments, recovery, the size limit."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import pytest
from tests.conftest import wait_until

from tracker.errors import Unavailable
from tracker.spool import LogSpool, decode, encode
from tracker.spool.frame import HEADER
from tracker.spool.memory import MemoryLog
from tracker.spool.segmented import SegmentedLog
from tracker.wakeup import Wakeup


def wait_durable(log: SegmentedLog, end: int) -> None:
    wait_until(
        f"the log is durable up to {end}",
        lambda: log.durable_end,
        lambda durable: durable >= end,
        timeout=5,
        interval=0.001,
    )


def test_records_round_trip_through_an_entry() -> None:
    records = [("events", b'{"eid":"x","a":"tab\\there"}'), ("hosts", b"{}")]
    assert decode(encode(records)) == records


def test_entries_are_read_back_at_their_offsets(tmp_path: Path) -> None:
    log = SegmentedLog(tmp_path)
    ends = [log.append(f"payload-{i}".encode()) for i in range(5)]
    wait_durable(log, ends[-1])
    entries = log.read(0, 1 << 20)
    assert [e.payload for e in entries] == [f"payload-{i}".encode() for i in range(5)]
    assert [e.end for e in entries] == ends
    assert log.read(ends[1], 1 << 20)[0].payload == b"payload-2"
    log.close()


def test_readers_never_see_what_is_not_yet_durable(tmp_path: Path) -> None:
    log = SegmentedLog(tmp_path)
    end = log.append(b"a")
    wait_durable(log, end)
    assert log.read(0, 1 << 20)[-1].end <= log.durable_end
    log.close()


def test_one_sync_covers_many_appends(tmp_path: Path) -> None:
    log = SegmentedLog(tmp_path)
    syncs: list[int] = []
    log.on_durable = syncs.append
    end = 0
    for i in range(2000):
        end = log.append(b"x" * 100 + str(i).encode())
    wait_durable(log, end)
    assert len(syncs) < 2000  # group commit: far fewer syncs than appends
    log.close()


def test_the_log_rolls_into_segments_and_reads_across_them(tmp_path: Path) -> None:
    log = SegmentedLog(tmp_path, segment_bytes=256)
    payloads = [os.urandom(40) for _ in range(30)]
    end = 0
    for payload in payloads:
        end = log.append(payload)
    wait_durable(log, end)
    assert len(list(tmp_path.glob("*.log"))) > 3
    assert [e.payload for e in log.read(0, 1 << 20)] == payloads
    log.close()


def test_released_segments_are_deleted_and_stop_counting(tmp_path: Path) -> None:
    log = SegmentedLog(tmp_path, segment_bytes=256)
    ends = [log.append(os.urandom(40)) for _ in range(30)]
    wait_durable(log, ends[-1])
    before = len(list(tmp_path.glob("*.log")))
    log.release(ends[20])
    assert len(list(tmp_path.glob("*.log"))) < before
    assert log.size_bytes == ends[-1] - ends[20]
    assert log.read(ends[20], 1 << 20)[0].start == ends[20]
    log.close()


def test_a_torn_last_entry_is_cut_on_reopen(tmp_path: Path) -> None:
    log = SegmentedLog(tmp_path)
    end = log.append(b"complete")
    wait_durable(log, end)
    log.close()
    segment = next(tmp_path.glob("*.log"))
    with open(segment, "ab") as handle:  # a crash in the middle of a write
        handle.write(HEADER.pack(100, 0) + b"half")
    reopened = SegmentedLog(tmp_path)
    assert [e.payload for e in reopened.read(0, 1 << 20)] == [b"complete"]
    assert reopened.append(b"next") == end + HEADER.size + 4
    reopened.close()


def test_offsets_continue_after_a_restart(tmp_path: Path) -> None:
    log = SegmentedLog(tmp_path)
    end = log.append(b"first")
    log.close()
    again = SegmentedLog(tmp_path)
    assert again.durable_end == end
    assert again.append(b"second") > end
    again.close()


def test_append_returns_only_once_the_entry_is_durable(tmp_path: Path) -> None:
    log = SegmentedLog(tmp_path)
    spool = LogSpool(log, max_bytes=1 << 30, durable=True, epoch="test")

    async def send() -> None:
        await asyncio.gather(*(spool.append([("events", b"{}")]) for _ in range(50)))

    asyncio.run(send())
    assert log.durable_end == log.end
    spool.close()


def test_a_full_spool_refuses_new_events_and_keeps_the_old(tmp_path: Path) -> None:
    spool = LogSpool(SegmentedLog(tmp_path), max_bytes=200, durable=True, epoch="test")
    accepted = 0

    async def fill() -> None:
        nonlocal accepted
        for _ in range(100):
            await spool.append([("events", b"x" * 40)])
            accepted += 1

    with pytest.raises(Unavailable) as refused:
        asyncio.run(fill())
    assert refused.value.retry_after > 0
    assert 0 < accepted < 100
    assert len(spool.read(0, 1 << 20)) == accepted
    spool.close()


def test_memory_mode_answers_at_once_and_frees_what_readers_passed() -> None:
    log = MemoryLog()
    spool = LogSpool(log, max_bytes=1 << 20, durable=False, epoch="test")
    asyncio.run(spool.append([("events", b"{}")]))
    asyncio.run(spool.append([("events", b"{}")]))
    entries = spool.read(0, 1 << 20)
    assert len(entries) == 2
    spool.release(entries[0].end)
    assert [e.start for e in spool.read(0, 1 << 20)] == [entries[1].start]


def test_a_wakeup_set_before_the_wait_is_kept_and_several_count_once() -> None:
    wakeup = Wakeup()
    assert wakeup.wait(0.01) is False  # nothing set: the wait times out
    wakeup.set()
    wakeup.set()
    assert wakeup.wait(0.01) is True  # set before the wait: not lost
    assert wakeup.wait(0.01) is False  # the two sets were one wake-up
    setter = threading.Timer(0.05, wakeup.set)
    setter.start()
    assert wakeup.wait(5.0) is True  # set from another thread while waiting
    setter.join()

"""`tracker prune` and `tracker forget` say what they work through: what, how many, of how many."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.conftest import cli

from tracker.plan.rows import record
from tracker.sinks.chdb import ChdbSink

NOW = datetime.now(UTC).replace(microsecond=0)


def test_prune_and_forget_show_labelled_progress_and_no_bar_for_no_work(tmp_path: Path) -> None:
    data = tmp_path / "data"
    sink = ChdbSink(data / "clickhouse")
    sink.open()
    vid = str(uuid.uuid4())
    old = [NOW - timedelta(days=90), NOW - timedelta(days=400)]  # two months: two partitions
    sink.write("events", [record("events", {"vid": vid, "created_at": at})[1] for at in old])
    sink.write("logs", [record("logs", {"created_at": NOW - timedelta(days=90), "msg": "x"})[1]])
    sink.close()
    config = tmp_path / "config.json"
    rule = {"Table": "events", "TTL": 30 * 86400, "ClearAll": True}
    config.write_text(json.dumps({"Notify": [{"Service": "clickhouse", "Prune": [rule]}]}))

    pruned = cli("prune", str(config), "--data-dir", str(data))
    shown = re.split(r"[\r\n]", pruned.stderr)
    assert any(
        re.fullmatch(r"prune: 3/3 partitions \[.*, logs, partition \d+\]", s) for s in shown
    ), shown
    assert "partition/s" not in pruned.stderr  # tqdm's unlabelled default is gone
    again = cli("prune", str(config), "--data-dir", str(data))  # nothing left: no bar at all
    assert (again.stderr, again.stdout) == ("", "tracker: prune finished (0 partitions changed)\n")

    forgot = cli("forget", "--data-dir", str(data), "--vid", vid)
    shown = re.split(r"[\r\n]", forgot.stderr)
    assert any(re.fullmatch(r"forget: (\d+)/\1 tables \[.*, events\]", s) for s in shown), shown

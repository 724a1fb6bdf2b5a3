"""docs/upgrading.md, step by step: its SQL on a Go tracker's database (chDB as a one-node
cluster), its commands parsed by the tracker, `schema migrate` run as the page says, and the
check it gives. (The compose files are checked in test_docker.py, backups in test_backup.py.)"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import orjson
import pytest
from chdb import session
from tests.chdb_cluster import ChdbCluster
from tests.conftest import cli
from tests.unit.test_migrate import DATA, load_go, statements

from tracker.cli import build_parser
from tracker.schema.migrate import migrate
from tracker.schema.render import Topology

ROOT = Path(__file__).parent.parent.parent
GUIDE = (ROOT / "docs" / "upgrading.md").read_text()


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", GUIDE, re.DOTALL)


def test_every_command_of_the_guide_is_one_the_tracker_or_the_repository_has() -> None:
    lines = [line for block in blocks("sh") for line in block.splitlines() if line.strip()]
    assert lines
    parser = build_parser()
    for line in lines:
        words = shlex.split(line)
        if words[0] == "tracker":
            parser.parse_args(words[1:])
        elif words[:2] == ["make", "docker-build"]:
            assert "docker-build:" in (ROOT / "Makefile").read_text()
        else:
            assert words[:3] == ["docker", "compose", "-f"], line
            assert (ROOT / words[3]).is_file(), line
    for name in re.findall(r"`(docker/[\w.]+)`", GUIDE):
        assert (ROOT / name).exists(), name


def test_the_config_keys_of_step_2_are_the_trackers(tmp_path: Path) -> None:
    (config,) = blocks("json")
    path = tmp_path / "config.json"
    path.write_text(config)
    out = cli("schema", "render", str(path))
    assert "ON CLUSTER tracker_cluster" in out.stdout
    assert "warning" not in out.stderr


def test_steps_1_3_and_5_on_a_go_tracker_database(tmp_path: Path) -> None:
    (backup,) = [s.strip().rstrip(";") for s in blocks("sql")]
    store = ChdbCluster(tmp_path / "go")
    try:
        load_go(store)
        events = int(store.query("SELECT count() FROM sfpla.events").strip())
        # 1. The backup statement, to a directory of this test.
        store.query(backup.replace("/backups/", f"{tmp_path}/backups/"))
        assert (tmp_path / "backups" / "sfpla-before-tracker" / ".backup").exists()
        # 3. What `tracker schema migrate` runs with ClickHouseUrl and ClickHouseCluster set.
        plan = migrate(store.query, Topology.CLUSTER, "sfpla", "tracker_cluster")
        assert "rename events_local.did to device_id" in plan.lines()
        assert int(store.query("SELECT count() FROM sfpla.events").strip()) == events
        # 5. The check.
        (check,) = [line for line in blocks("sh")[2].splitlines() if line.startswith("tracker")]
        sql = shlex.split(check)[-1]
        assert store.query(sql).strip() == b"233"
    finally:
        store.close()


@pytest.mark.parametrize("dry_run", [True, False])
def test_step_3_on_the_command_line_upgrades_a_store_of_tracker_0_1(
    tmp_path: Path, dry_run: bool
) -> None:
    data = tmp_path / "data"
    old = session.Session(str(data / "clickhouse"))  # the store as tracker 0.1.0 left it
    for sql in statements(DATA / "schema-0.1.0.sql"):
        old.query(sql)
    old.query("INSERT INTO sfpla.events (ename) VALUES ('kept')")
    old.close()

    args = ["schema", "migrate", "--data-dir", str(data)] + (["--dry-run"] if dry_run else [])
    out = cli(*args).stdout
    assert "  create table users" in out
    assert "(tracker, no version)" in out
    # 88 steps, 2 for the bounded JSON of events.params and events.targets (version 3), and 3
    # for the dashboard's copy of events (its table, its view, filling it from the stored events)
    verb = "would run 93 steps to reach version 3" if dry_run else "ran 93 steps, now at version 3"
    assert verb in out
    rows = cli(
        "query",
        "--data-dir",
        str(data),
        "--format",
        "JSONEachRow",
        "SELECT count() AS n FROM system.tables WHERE database = 'sfpla'",
    ).stdout
    assert orjson.loads(rows)["n"] == (40 if dry_run else 163)  # 161, the copy and its view
    kept = cli(
        "query", "--data-dir", str(data), "--format", "TSV", "SELECT ename FROM sfpla.events"
    )
    assert kept.stdout == "ename\nkept\n"

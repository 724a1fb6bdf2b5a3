"""Schema versions and migrations: a fresh store, today's schema and a Go tracker's database are
all brought to the catalogue, and no row is lost on the way."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from chdb import session
from tests.chdb_cluster import ChdbCluster
from tests.unit.go_schema import ALL_GO_TABLES, GO_SYSTEM_TABLES_ROWS

from tracker.schema.live import Origin, introspect
from tracker.schema.migrate import (
    CURRENT_VERSION,
    MIGRATIONS,
    Migration,
    MigrationError,
    ModifyColumn,
    Scope,
    migrate,
    plan_migration,
)
from tracker.schema.model import Column
from tracker.schema.render import Topology

DATA = Path(__file__).parent.parent / "data"
DB = "sfpla"


def statements(path: Path) -> list[str]:
    text = "\n".join(line for line in path.read_text().splitlines() if not line.startswith("--"))
    return [part.strip() for part in text.split(";\n") if part.strip()]


class Store:
    def __init__(self, path: Path) -> None:
        self.session = session.Session(str(path))

    def query(self, sql: str, fmt: str = "TSV") -> bytes:
        data: bytes = self.session.query(sql, fmt).bytes()
        return data

    def rows(self, sql: str) -> list[dict[str, Any]]:
        return [orjson.loads(line) for line in self.query(sql, "JSONEachRow").splitlines() if line]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(tmp_path / "ch")
    try:
        yield opened
    finally:
        opened.session.close()


@pytest.fixture
def go_cluster(tmp_path: Path) -> Iterator[ChdbCluster]:
    cluster = ChdbCluster(tmp_path / "go")
    try:
        yield cluster
    finally:
        cluster.close()


def counts(query: Any, tables: list[str]) -> dict[str, int]:
    return {
        table: int(query(f"SELECT count() FROM {DB}.{table}", "TSV").strip()) for table in tables
    }


def test_a_fresh_store_is_created_whole_and_a_second_run_changes_nothing(store: Store) -> None:
    first = migrate(store.query)
    assert (first.origin, first.from_version, first.to_version) == (
        Origin.EMPTY,
        None,
        CURRENT_VERSION,
    )
    # database, objects (and dashboard_shares, dashboard_events and its view: the tracker's own),
    # version
    assert len(first.steps) == 1 + 68 + 2 + 19 + 6 + 34 + 1
    live = introspect(store.query, DB)
    assert live.version == CURRENT_VERSION
    second = plan_migration(store.query)
    assert (second.origin, second.from_version, second.steps, second.kept) == (
        Origin.TRACKER,
        CURRENT_VERSION,
        [],
        [],
    )


def test_the_tracker_scope_creates_only_what_the_server_needs(store: Store) -> None:
    migrate(store.query, scope=Scope.TRACKER)
    names = set(introspect(store.query, DB).tables)
    assert "events" in names
    assert "users" not in names
    assert "payments_by_user" not in names
    # tables (`sequences` among them, dashboard_shares, dashboard_events), own views, TO views
    assert len(names) == 33 + 4 + 6


def test_upgrading_todays_schema_keeps_every_row_and_adds_the_rest(store: Store) -> None:
    for sql in statements(DATA / "schema-0.1.0.sql"):
        store.query(sql)
    store.query(
        f"INSERT INTO {DB}.events (ename, url, ip, vid) VALUES"
        " ('a', 'https://x/', '1.1.1.1', generateUUIDv4()), ('b', 'https://y/', '', generateUUIDv4())"
    )
    store.query(
        f"INSERT INTO {DB}.payments (uid, product, revenue) VALUES (generateUUIDv4(), 'p', 3)"
    )
    tables = ["events", "hits", "ips", "reqs", "payments"]
    before = counts(store.query, tables)
    plan = migrate(store.query)
    assert (plan.origin, plan.from_version) == (Origin.TRACKER, None)
    assert counts(store.query, tables) == before
    assert before == {"events": 2, "hits": 2, "ips": 1, "reqs": 2, "payments": 1}
    live = introspect(store.query, DB)
    assert set(ALL_GO_TABLES) <= set(live.tables)
    assert live.version == CURRENT_VERSION
    # The new lookup views were filled from the rows already there.
    assert store.rows(f"SELECT product FROM {DB}.payments_by_user") == [{"product": "p"}]
    assert plan_migration(store.query).steps == []


def test_a_migration_changes_a_column_type_in_place_and_keeps_the_values(store: Store) -> None:
    migrate(store.query)
    store.query(
        f'INSERT INTO {DB}.events (ename, params) VALUES (\'x\', \'{{"plan": "pro", "n": 3}}\')'
    )
    bounded = Column("params", "JSON(max_dynamic_paths=16)", "'{}'")
    later = (
        *MIGRATIONS,
        Migration(CURRENT_VERSION + 1, "bound params", (ModifyColumn("events", bounded),)),
    )
    plan = migrate(store.query, migrations=later)
    assert [step.why for step in plan.steps] == [
        "change events.params from JSON(max_dynamic_types=8, max_dynamic_paths=32)"
        " to JSON(max_dynamic_paths=16)",
        f"record schema version {CURRENT_VERSION + 1}",
    ]
    (row,) = store.rows(
        f"SELECT toTypeName(params) AS type, params.plan AS plan, params.n AS n FROM {DB}.events"
    )
    assert row == {"type": "JSON(max_dynamic_paths=16)", "plan": "pro", "n": 3}
    again = plan_migration(store.query, migrations=later)
    assert again.steps == []


def load_go(cluster: ChdbCluster) -> None:
    for sql in statements(DATA / "go-tracker-schema.sql"):
        cluster.query(sql)
    cluster.query(
        f"INSERT INTO {DB}.events (eid, vid, did, auth, hhash, url, ename) VALUES"
        " ('00000000-0000-0000-0000-000000000001', generateUUIDv4(),"
        " '11111111-1111-1111-1111-111111111111', '22222222-2222-2222-2222-222222222222',"
        " 'h', 'https://x/', 'page_view'),"
        " ('00000000-0000-0000-0000-000000000002', generateUUIDv4(), generateUUIDv4(),"
        " generateUUIDv4(), 'h', 'https://x/', 'click')"
    )
    cluster.query(
        f"INSERT INTO {DB}.visitor_interests (vid, audience_confidence, confidence_score)"
        " VALUES (generateUUIDv4(), 0.25, 0.5)"
    )
    cluster.query(f"INSERT INTO {DB}.queues (svc, qtype) VALUES ('mail', 'email')")


def test_a_go_tracker_database_is_adopted_without_losing_a_row(go_cluster: ChdbCluster) -> None:
    load_go(go_cluster)
    tables = ["events", "hits", "reqs", "accounts", "visitor_interests", "queues", "sequences"]
    before = counts(go_cluster.query, tables)
    assert introspect(go_cluster.query, DB).origin is Origin.GO

    plan = migrate(go_cluster.query, Topology.CLUSTER)

    assert plan.origin is Origin.GO
    assert plan.from_version is None
    assert counts(go_cluster.query, tables) == {**before, "sequences": before["sequences"] + 1}
    whys = [step.why for step in plan.steps]
    for done in (
        "rename events_local.did to device_id",
        "rename events.auth to auth_id",
        "change visitor_interests_local.confidence_score from Float32 to Float64",
        "add column events_local.arm_id String",
        "add column events.mcid String",
        "redefine view visitors",
        "redefine materialized view hits_mv",
        "create table users_local",
        "create table users",
        "create materialized view permissions_by_ref",
        "change events_local.params from JSON to JSON(max_dynamic_types=8, max_dynamic_paths=32)",
        f"record schema version {CURRENT_VERSION}",
    ):
        assert done in whys
    # On one chDB node the engines lose "Replicated"; the engine and the partition key are kept.
    assert (
        "kept: events_local is a ReplacingMergeTree (the catalogue says MergeTree)" in plan.lines()
    )
    assert (
        "kept: events_local is partitioned by (oid, hhash, toYYYYMM(created_at))"
        " (the catalogue says toYYYYMM(created_at))"
    ) in plan.lines()
    assert any(
        "queues_local has columns the catalogue does not know: legacy_note" in line
        for line in plan.lines()
    )
    # The renamed columns kept their values; the Float32 confidences became Float64.
    assert go_cluster.rows(
        f"SELECT toString(device_id) AS d, toString(auth_id) AS a FROM {DB}.events"
        " WHERE eid = '00000000-0000-0000-0000-000000000001'"
    ) == [
        {"d": "11111111-1111-1111-1111-111111111111", "a": "22222222-2222-2222-2222-222222222222"}
    ]
    assert go_cluster.rows(
        f"SELECT toTypeName(confidence_score) AS t, confidence_score AS c FROM {DB}.visitor_interests"
    ) == [{"t": "Float64", "c": 0.5}]
    # The Go markers stay; ours is added.
    assert go_cluster.rows(f"SELECT name, seq FROM {DB}.sequences ORDER BY name") == [
        {"name": "DB_VER", "seq": 3},
        {"name": "TRACKER_SCHEMA_VER", "seq": CURRENT_VERSION},
    ]
    # Every object of the Go schema is there now (plus visitor_interests, dashboard_shares,
    # dashboard_events and their twins, and dashboard_events_mv).
    rows = go_cluster.rows(f"SELECT count() AS n FROM system.tables WHERE database = '{DB}'")
    assert rows == [{"n": GO_SYSTEM_TABLES_ROWS + 7}]
    # The tracker's rows land, and the redefined view counts the UTC day.
    go_cluster.query(
        f"INSERT INTO {DB}.events (hhash, url, arm_id) VALUES ('h', 'https://z/', 'arm')"
    )
    assert go_cluster.rows(f"SELECT sum(total) AS n FROM {DB}.hits") == [{"n": 3}]
    again = plan_migration(go_cluster.query, Topology.CLUSTER)
    assert [step.why for step in again.steps] == []


def test_a_go_cluster_database_is_refused_by_a_single_store_setup(go_cluster: ChdbCluster) -> None:
    load_go(go_cluster)
    with pytest.raises(MigrationError, match="set ClickHouseCluster to the cluster's name"):
        plan_migration(go_cluster.query, Topology.EMBEDDED)


@pytest.mark.parametrize("topology", [t for t in Topology if t is not Topology.EMBEDDED])
def test_a_fresh_cluster_database_gets_every_object_of_the_go_schema(
    go_cluster: ChdbCluster, topology: Topology
) -> None:
    migrate(go_cluster.query, topology)
    rows = go_cluster.rows(
        f"SELECT engine, count() AS n FROM system.tables WHERE database = '{DB}' GROUP BY engine"
    )
    engines = {row["engine"]: row["n"] for row in rows}
    # and visitor_interests, dashboard_shares and dashboard_events, twice each, and the view
    assert sum(engines.values()) == GO_SYSTEM_TABLES_ROWS + 7
    assert engines["Distributed"] == len(ALL_GO_TABLES) + 3
    assert all(
        " ON CLUSTER tracker_cluster" in sql for sql in go_cluster.statements if "CREATE" in sql
    )
    go_cluster.query(f"INSERT INTO {DB}.events (hhash, url) VALUES ('h', 'https://x/')")
    assert go_cluster.rows(f"SELECT sum(total) AS n FROM {DB}.hits") == [{"n": 1}]

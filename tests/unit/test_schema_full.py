"""The Go tracker's whole schema (226 objects), from the catalogue, in a chDB store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from chdb import session
from tests.unit.go_schema import (
    ALL_GO_TABLES,
    ALL_GO_VIEWS,
    GO_FILE_COUNTS,
    GO_INNER_VIEWS,
    GO_TABLES,
    GO_TO_VIEWS,
    GO_VIEWS,
)

from tracker.schema.render import Topology, render
from tracker.schema.tables import (
    ALL_TABLES,
    INNER_VIEWS,
    MATERIALIZED_VIEWS,
    REFERENCE_TABLES,
    TABLES,
    VIEWS,
)

DB = "sfpla"


class Store:
    def __init__(self, path: Path) -> None:
        self.session = session.Session(str(path))

    def run(self, sql: str) -> None:
        self.session.query(sql, "TSV")

    def rows(self, sql: str) -> list[dict[str, Any]]:
        out = self.session.query(sql, "JSONEachRow").bytes()
        return [orjson.loads(line) for line in out.splitlines() if line]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """The whole schema, loaded once for this module."""
    loaded = Store(tmp_path_factory.mktemp("full") / "ch")
    for statement in render():
        loaded.run(statement)
    try:
        yield loaded
    finally:
        loaded.session.close()


def objects(store: Store) -> dict[str, dict[str, Any]]:
    return {
        row["name"]: row
        for row in store.rows(
            "SELECT name, engine, engine_full, sorting_key FROM system.tables"
            f" WHERE database = '{DB}'"
        )
    }


def test_the_catalogue_has_every_table_view_and_materialized_view_of_the_go_schema() -> None:
    own = {"visitor_interests", "dashboard_shares", "dashboard_events"}
    assert set(ALL_TABLES) - own == set(ALL_GO_TABLES)
    assert [view.name for view in VIEWS] == ALL_GO_VIEWS
    assert {view.name for view in INNER_VIEWS} == set(GO_INNER_VIEWS)
    ours = {"dashboard_events_mv": "dashboard_events"}  # the dashboard's copy of events
    assert {view.name: view.to_table for view in MATERIALIZED_VIEWS} == {**GO_TO_VIEWS, **ours}


def test_the_go_files_add_up_to_226_system_tables_rows() -> None:
    assert {name: len(tables) for name, tables in GO_TABLES.items()} == {
        name: counts[0] for name, counts in GO_FILE_COUNTS.items()
    }
    assert {name: len(views) for name, views in GO_VIEWS.items()} == {
        name: counts[2] for name, counts in GO_FILE_COUNTS.items() if counts[2]
    }
    for local, distributed, views, inner, to, rows in GO_FILE_COUNTS.values():
        assert local + distributed + views + 2 * inner + to == rows
    assert sum(counts[5] for counts in GO_FILE_COUNTS.values()) == 226


def test_the_tracker_writes_only_the_tables_it_wrote_before() -> None:
    # and dashboard_shares (the dashboard's public links), dashboard_events (its copy of events)
    assert len(TABLES) == 33
    assert not set(TABLES) & set(REFERENCE_TABLES)


def test_every_object_of_the_go_schema_is_in_the_embedded_store(store: Store) -> None:
    found = objects(store)
    inner = [name for name in found if name.startswith(".inner_id.")]
    assert len(inner) == len(GO_INNER_VIEWS)
    named = {name: row["engine"] for name, row in found.items() if name not in inner}
    expected = {
        **{name: spec[0] for name, spec in ALL_GO_TABLES.items()},
        "visitor_interests": "ReplacingMergeTree",
        "dashboard_shares": "ReplacingMergeTree",
        "dashboard_events": "MergeTree",
        "dashboard_events_mv": "MaterializedView",
        **dict.fromkeys(ALL_GO_VIEWS, "View"),
        **dict.fromkeys([*GO_INNER_VIEWS, *GO_TO_VIEWS], "MaterializedView"),
    }
    assert named == expected
    assert len(found) == 68 + 1 + 19 + 39 + 34 + 2  # + the dashboard's copy and its view


def test_every_table_has_the_go_engine_version_column_and_column_count(store: Store) -> None:
    found = objects(store)
    columns = {
        row["table"]: int(row["n"])
        for row in store.rows(
            f"SELECT table, count() AS n FROM system.columns WHERE database = '{DB}' GROUP BY table"
        )
    }
    for name, (engine, args, count) in ALL_GO_TABLES.items():
        full = found[name]["engine_full"]
        assert full.startswith(f"{engine}({args})" if args else f"{engine} "), (name, full)
        assert columns[name] == count, name


def test_the_lookup_views_have_the_go_engines_and_sorting_keys(store: Store) -> None:
    by_uuid = {
        row["uuid"]: row
        for row in store.rows(f"SELECT name, uuid FROM system.tables WHERE database = '{DB}'")
    }
    inner = store.rows(
        "SELECT name, engine_full, sorting_key FROM system.tables"
        f" WHERE database = '{DB}' AND startsWith(name, '.inner_id.')"
    )
    seen = {}
    for row in inner:
        view = by_uuid[row["name"].removeprefix(".inner_id.")]["name"]
        seen[view] = row
    for name, (engine, args, key) in GO_INNER_VIEWS.items():
        assert seen[name]["engine_full"].startswith(f"{engine}({args})" if args else f"{engine} ")
        assert seen[name]["sorting_key"] == key, name


def test_reference_tables_keep_the_go_types_the_tracker_never_writes(store: Store) -> None:
    types = {
        (row["table"], row["name"]): row["type"]
        for row in store.rows(
            f"SELECT table, name, type FROM system.columns WHERE database = '{DB}'"
        )
    }
    assert types[("users", "v_score")] == "Decimal(18, 4)"
    assert types[("budget_limits", "campaign_id")] == "Nullable(UUID)"
    assert types[("budget_emergency_actions", "error_message")] == "Nullable(String)"
    assert types[("cohorts", "embedding_dimensions")] == "UInt16"
    assert types[("platform_credentials", "is_valid")] == "Bool"
    assert types[("zips", "population")] == "Int32"
    assert types[("zips", "poverty")] == "Float64"


def test_the_two_ttl_tables_and_the_skipping_index_are_kept(store: Store) -> None:
    queries = {
        row["name"]: row["create_table_query"]
        for row in store.rows(
            f"SELECT name, create_table_query FROM system.tables WHERE database = '{DB}'"
            " AND name IN ('queues', 'actions_ext', 'oauth_states', 'platform_credentials')"
        )
    }
    assert "TTL toDateTime(created_at) + toIntervalDay(14)" in queries["queues"]
    assert "TTL toDateTime(created_at) + toIntervalDay(14)" in queries["actions_ext"]
    assert "TTL toDateTime(expires_at) + toIntervalHour(1)" in queries["oauth_states"]
    assert (
        "INDEX idx_expiry token_expires_at TYPE minmax GRANULARITY 1"
        in (queries["platform_credentials"])
    )


def test_every_view_answers_over_rows_of_its_tables(store: Store) -> None:
    store.run(
        f"INSERT INTO {DB}.events (eid, oid, vid, sid, uid, hhash, ename, url, ip, iphash, lat, lon,"
        " ref, rcode, score) VALUES (generateUUIDv4(), generateUUIDv4(), generateUUIDv4(),"
        " generateUUIDv4(), generateUUIDv4(), 'h', 'purchase', 'https://a/', '1.2.3.4', 'x', 1, 2,"
        " generateUUIDv4(), 'r', 9.5)"
    )
    store.run(
        f"INSERT INTO {DB}.payments (invid, product, qty, price, revenue, campaign_id)"
        " VALUES (generateUUIDv4(), 'p', 2, 5, 10, 'c1')"
    )
    store.run(
        f"INSERT INTO {DB}.platform_credentials (platform, account_id, token_expires_at)"
        " VALUES ('google_ads', 'a1', now64(3) + INTERVAL 30 MINUTE)"
    )
    counts = {view: len(store.rows(f"SELECT * FROM {DB}.{view}")) for view in ALL_GO_VIEWS}
    assert counts == dict.fromkeys(ALL_GO_VIEWS, 1)
    (credential,) = store.rows(f"SELECT token_status FROM {DB}.active_platform_credentials")
    assert credential == {"token_status": "expiring_soon"}
    (funnel,) = store.rows(f"SELECT conversion_value FROM {DB}.conversion_funnel")
    assert funnel == {"conversion_value": 9.5}


def test_a_visitor_who_never_converted_is_not_in_the_conversion_funnel(store: Store) -> None:
    store.run(f"INSERT INTO {DB}.events (vid, ename) VALUES (generateUUIDv4(), 'page_view')")
    assert all(
        row["conversion_time"] > "1970"
        for row in store.rows(
            f"SELECT toString(conversion_time) AS conversion_time FROM {DB}.conversion_funnel"
        )
    )
    assert len(store.rows(f"SELECT * FROM {DB}.conversion_funnel")) == 1


def test_lookup_views_over_tables_fill_on_insert_and_ltv_totals_are_not_doubled_on_replay(
    store: Store,
) -> None:
    user = "11111111-1111-1111-1111-111111111111"
    for _ in range(2):  # the spool replays a batch with the same token
        store.run(
            f"INSERT INTO {DB}.ltv (hhash, id, id_type, paid)"
            " SETTINGS deduplicate_blocks_in_dependent_materialized_views = 1,"
            f" insert_deduplication_token = 'epoch-ltv-0-1' VALUES ('h', '{user}', 'uid', 12.5)"
        )
    assert store.rows(f"SELECT sum(paid) AS paid FROM {DB}.ltv_by_uid") == [{"paid": 12.5}]
    assert store.rows(f"SELECT count() AS n FROM {DB}.ltv_by_vid") == [{"n": 0}]
    store.run(
        f"INSERT INTO {DB}.users (uid, username, email, cohorts, additional_emails) VALUES"
        f" ('{user}', 'ann', 'a@x', ['c1', 'c2'], '{{\"b@x\": {{\"created_at\": \"2024-01-01\"}}}}')"
    )
    assert store.rows(f"SELECT username FROM {DB}.user_by_username") == [{"username": "ann"}]
    assert store.rows(f"SELECT cohorts FROM {DB}.user_by_cohorts ORDER BY cohorts") == [
        {"cohorts": "c1"},
        {"cohorts": "c2"},
    ]
    emails = store.rows(
        f"SELECT email_address, email_type FROM {DB}.user_by_all_emails ORDER BY email_address"
    )
    assert emails == [
        {"email_address": "a@x", "email_type": "primary"},
        {"email_address": "b@x", "email_type": "additional"},
    ]


@pytest.mark.parametrize("topology", list(Topology))
def test_every_object_renders_in_every_topology(topology: Topology) -> None:
    text = "\n".join(render(topology))
    for table in ALL_TABLES.values():
        assert f".{table.name}" in text
    for name in (*ALL_GO_VIEWS, *GO_INNER_VIEWS, *GO_TO_VIEWS):
        assert f".{name}" in text
    own = "\n".join(render(topology, full=False))
    assert ".events" in own
    assert not any(f".{name} " in own or f".{name}\n" in own for name in REFERENCE_TABLES)

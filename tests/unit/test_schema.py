"""The schema catalogue and its renderer, checked against a real chDB (ClickHouse 26.9)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from chdb import session

from tracker.schema.model import Column, Table
from tracker.schema.render import (
    Topology,
    create_table_sql,
    insert_target,
    render,
    sharding_key,
)
from tracker.schema.tables import (
    ALL_TABLES,
    MATERIALIZED_VIEWS,
    OWN_VIEWS,
    TABLES,
    VIEW_FED_TABLES,
)

DB = "sfpla"

# Every table of the Go tracker's schema files that the tracker writes or reads.
SPEC_TABLES = [
    "events", "ips", "hits", "reqs", "browsers", "referrers", "dailies", "counters", "outcomes",
    "ltv", "hosts", "userhosts", "usernames", "emails", "cells", "visitor_interests", "mthreads",
    "mstore", "mtriage", "impression_daily", "payments", "agreements", "agreed", "redirects",
    "redirect_history", "logs", "updates", "accounts", "orgs", "jurisdictions", "sequences",
]  # fmt: skip

# Column counts of the Go schema's tables.
SPEC_COLUMN_COUNTS = {
    "events": 61,
    "mthreads": 135,
    "mstore": 50,
    "mtriage": 41,
    "payments": 40,
    "agreements": 42,
    "agreed": 42,
}


# Column lists of the Go schema, written out independently of the catalogue ("name Type = default";
# S String, U UUID, DT DateTime64(3), LC LowCardinality(String), J JSON '{}', JB JSON '{}' with bounded
# dynamic paths, where ours deliberately differs: docs/differences.md), so that a catalogue
# that drifts from the Go schema fails here rather than agreeing with itself.
SPEC_COLUMNS = {
    "events": """eid U = generateUUIDv4(); oid U; org LC; vid U; device_id U; sid U; hhash S; app S; rel S;
  cflags Int64; created_at DT = now64; uid U; tid U; last S; url S; ip S; iphash S; lat Float64;
  lon Float64; ptyp S; bhash S; auth_id U; duration Int64; xid S; split S; ename S; source S; medium S;
  campaign S; content S; country S; region S; city S; zip S; term S; etyp S; ver Int32; sink S;
  score Float64; params JB; invoice_id U; targets JB; relation S; rid U; ja4h S; gaid S; idfa S; msid S;
  fbid S; culture S; ref U; rcode S; aff S; arm_id S; mcid S; browser S; device S; os S; tz S;
  vp_w Int64; vp_h Int64""",
    "mthreads": """tid U; alias S; xid S; xstatus S; name S; ddata J; post S; mtempl J; mcert_id U; cats / mtypes /
  fmtypes / cmtypes Array(String); urgency Int32; sys Bool; ephemeral Int32; archived Bool;
  admins Array(UUID); opens Bool; openp Bool; perms_ids Array(UUID); app S; rel S; ver Int32; ptyp S;
  etyp S; ename S; auth_name S; cohorts Array(String); splits J; source S; svc S; medium S; campaign S;
  term S; promo S; ref U; aff S; provider S; provider_campaign_id S; provider_account_id S;
  provider_metrics J; provider_cost Float64; provider_status S; broadcast Bool; derive Bool;
  sent / outs / subs / pubs Array(UUID); prefs J; ftrack Bool; strack Bool; interest J; perf J;
  planned_impressions / actual_impressions / impression_goal Int64; impression_budget Float64;
  cost_per_impression Float64; vid_targets Array(UUID); funnel_stage S; total_conversions Int64;
  conversion_value Float64; variants J; variant_weights J; winner_variant S; audience_params J;
  audience_metrics J; audience_segments Array(String); content_keywords Array(String);
  content_assumptions J; content_metrics J; content_intention S; abz_enabled Bool; abz_algorithm S;
  abz_reward_metric S; abz_reward_value / abz_exploration_rate / abz_learning_rate Float64;
  abz_start_time DT=epoch; abz_sample_size / abz_min_sample_size Int64; abz_confidence_level /
  abz_winner_threshold Float64; abz_auto_optimize / abz_auto_stop Bool; abz_status S; abz_params J;
  abz_infinite_armed Bool; abz_param_space J; abz_model_type S; abz_model_params J;
  abz_acquisition_function S; campaign_id S; campaign_phase S; campaign_priority Int32;
  campaign_budget_allocation Float64; campaign_status S; attribution_model S; attribution_weight
  Float64; attribution_window Int32; attribution_params J; requires_consent Bool; consent_types
  Array(String); regional_compliance J; frequency_caps J; data_retention Int32; content_version Int32;
  content_status S; content_approver U; content_approval_date DT=epoch; content_history Array(UUID);
  content_creator U; content_editors Array(UUID); creator_id U; content_id U; creator_compensation
  Bool; creator_compensation_rate Float64; creator_compensation_model S; creator_compensation_cap
  Float64; creator_notes S; parent_tid U; deleted DT=epoch; created_at DT=now64; oid U; org LC;
  owner U; uid U; vid U; updatedms Int64; updated_at DT=now64; updater U; text_normalized S;
  text_tokens Array(String)""",
    "mstore": """tid U; mid U; pmid U; subject S; msg S; data S;
  urgency Int32; sys Bool; broadcast Bool; mtempl **S**; repl J; svc S; qid U; rid U; relation S;
  meta J; planned DT=epoch; scheduled DT=epoch; scheduled_local_hour Int8 = \u22121; scheduled_local_dow
  Int8 = \u22121; recipient_timezone S; utc_offset_minutes Int16; started DT=epoch; completed DT=epoch;
  mtypes Array(String); users / deliveries / failures Array(UUID); xid S; split S; perms_ids
  Array(UUID); deleted DT=epoch; keep Bool; createdms Int64; created_at DT=now64; oid U; org LC;
  owner U; uid U; vid U; updated_at DT=**epoch**; updater U; interest J; perf J; hide DT=epoch;
  hidden Bool; funnel_stage S; conversion_event_count Int64; text_normalized S; text_tokens
  Array(String)""",
    "impression_daily": """oid U; org LC; tid U; campaign_id S; day Date =
  today(); variant_id S; total_impressions / anonymous_impressions / identified_impressions /
  unique_visitors / conversions Int64; updated_at DT=now64""",
    "payments": """id U = generateUUIDv4(); oid U; org LC; tid U; uid U; vid U; sid U; invid U;
orid U; invoiced_at DT=now64; product S; product_id U; pcat S; man S; model S; qty Float64;
duration Int64; starts DT=now64; ends DT=now64; price, discount, revenue, margin, cost, tax, tax_rate,
commission, referral, fees, subtotal, total, payment Float64; currency S = 'USD'; country S; rcode S;
region S; campaign_id S; paid_at DT=now64; created_at DT=now64; updated_at DT=now64""",
    "agreements": """vid U; created_at DT=now64;
updated_at DT=now64; compliances J; cflags Int64; sid U; uid U; avid U; hhash S; app S; rel S; url S;
ip S; iphash S; gaid S; idfa S; msid S; fbid S; country S; region S; culture S; source S; medium S;
campaign S; term S; ref U; rcode S; aff S; browser S; bhash S; device S; os S; tz S; vp_w Int64;
vp_h Int64; loc J; lat Float64; lon Float64; zip S; owner U; oid U; org LC""",
    "redirects": """hhash S; urlfrom S; urlto S; oid U; org LC; updated_at DT=now64; updater U;
  created_at DT=now64""",
    "redirect_history": """urlfrom S; hostfrom S; slugfrom S; urlto S; hostto S; pathto S;
  searchto S; oid U; org LC; updater U; updated_at DT=now64""",
    "logs": """id U = generateUUIDv4(); ldate Date = today();
  created_at DT=now64; ltime DateTime64(9) = epoch; topic S; name S; host S; hostname S; oid U; org LC;
  owner U; ip S; iphash S; level Int32; msg S; params J""",
    "updates": "id S; updated_at DT=now64; msg S",
    "accounts": """uid U; pwd S; ip S; msg S; expires DT=epoch; creds J; created_at DT=now64; updated_at DT=now64;
  owner U""",
}
SPEC_COLUMNS["agreed"] = SPEC_COLUMNS["agreements"]

LEGEND = {
    "S": "String",
    "U": "UUID",
    "DT": "DateTime64(3)",
    "LC": "LowCardinality(String)",
    "J": "JSON",
    "JB": "JSON(max_dynamic_types=8, max_dynamic_paths=32)",
}


def spec_default(type_name: str, text: str | None) -> str | None:
    if text is None:
        return "'{}'" if type_name.startswith("JSON") else None
    if text == "epoch":
        return f"toDateTime64(0, {type_name[len('DateTime64(') : -1]})"
    return {"now64": "now64(3)", "\u22121": "-1"}.get(text, text)


def parse_spec_columns(text: str) -> list[tuple[str, str, str | None]]:
    """``"a / b Int64; c DT=now64"`` → ``[(a, Int64, None), (b, Int64, None), (c, …, now64(3))]``."""
    columns = []
    for item in " ".join(text.replace("**", "").split()).split(";"):
        declaration, _, default = item.partition("=")
        *names, type_code = declaration.replace(" / ", " ").replace(", ", " ").split()
        type_name = LEGEND.get(type_code, type_code)
        for name in names:
            columns.append((name, type_name, spec_default(type_name, default.strip() or None)))
    return columns


class Ch:
    """A chDB session with the few helpers these tests need."""

    def __init__(self, path: str) -> None:
        self.session = session.Session(path)

    @staticmethod
    def param(text: str) -> str:
        """Query parameter values are read in TSV escaping."""
        return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")

    def run(self, sql: str, params: dict[str, Any] | None = None) -> None:
        self.session.query(sql, "TSV", params=params)

    def rows(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        out = self.session.query(sql, "JSONEachRow", params=params).bytes()
        return [orjson.loads(line) for line in out.splitlines() if line]

    def value(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        (row,) = self.rows(sql, params)
        (value,) = row.values()
        return value

    def load(self, statements: list[str]) -> None:
        for statement in statements:
            self.run(statement)

    def insert_events(self, rows: list[dict[str, Any]], settings: str = "") -> None:
        body = b"\n".join(orjson.dumps(row) for row in rows).decode()
        columns = ", ".join(rows[0])
        settings_clause = f" SETTINGS {settings}" if settings else ""
        self.run(f"INSERT INTO {DB}.events ({columns}){settings_clause} FORMAT JSONEachRow\n{body}")

    def total(self, table: str) -> int:
        return int(self.value(f"SELECT sum(total) FROM {DB}.{table}"))


@pytest.fixture
def ch(tmp_path: Any) -> Iterator[Ch]:
    client = Ch(str(tmp_path / "ch"))
    try:
        yield client
    finally:
        client.session.close()


@pytest.fixture
def loaded(ch: Ch) -> Ch:
    ch.load(
        render(full=False)
    )  # the tables the tracker writes and reads (the rest: test_schema_full)
    return ch


def storage_tables(ch: Ch) -> list[dict[str, Any]]:
    return ch.rows(
        "SELECT name, engine, engine_full, sorting_key, partition_key FROM system.tables"
        " WHERE database = {db:String} AND engine LIKE '%MergeTree' ORDER BY name",
        {"db": DB},
    )


def sorting_key(expression: str) -> str:
    """A sorting key as ``system.tables`` prints it: ``(a, b)`` → ``a, b``, ``tuple()`` → ``''``."""
    if expression == "tuple()":
        return ""
    if expression.startswith("(") and expression.endswith(")"):
        inner = expression[1:-1]
        if inner.count("(") == inner.count(")"):  # the outer parentheses are one pair
            return inner
    return expression


def test_embedded_schema_loads_into_chdb(loaded: Ch) -> None:
    names = {
        row["name"]
        for row in loaded.rows(f"SELECT name FROM system.tables WHERE database = '{DB}'")
    }
    expected = {
        *TABLES,
        *(view.name for view in OWN_VIEWS),
        *(view.name for view in MATERIALIZED_VIEWS),
    }
    assert names == expected


def test_loading_the_schema_twice_changes_nothing(loaded: Ch) -> None:
    snapshot = (
        f"SELECT name, create_table_query FROM system.tables WHERE database = '{DB}' ORDER BY name"
    )
    before = loaded.rows(snapshot)
    loaded.load(render(full=False))
    assert loaded.rows(snapshot) == before


# Tables this tracker adds (docs/differences.md): the dashboard's public links.
OWN_TABLES = ["dashboard_shares", "dashboard_events"]


def test_catalogue_holds_exactly_the_tables_of_the_spec_in_its_order() -> None:
    assert list(TABLES) == SPEC_TABLES + OWN_TABLES


def test_column_lists_match_the_spec_text_name_by_name() -> None:
    for table, text in SPEC_COLUMNS.items():
        catalogue = [(c.name, c.type, c.default) for c in TABLES[table].columns]
        assert catalogue == parse_spec_columns(text), table


def test_mtriage_is_mstore_without_nine_columns_and_with_updated_at_now() -> None:
    dropped = {"planned", "interest", "perf", "hide", "hidden", "funnel_stage",
               "conversion_event_count", "text_normalized", "text_tokens"}  # fmt: skip
    expected = [
        (c.name, c.type, "now64(3)" if c.name == "updated_at" else c.default)
        for c in TABLES["mstore"].columns
        if c.name not in dropped
    ]
    assert [(c.name, c.type, c.default) for c in TABLES["mtriage"].columns] == expected


def test_visitor_interests_has_the_last_published_columns() -> None:
    table = TABLES["visitor_interests"]
    assert len(table.columns) == 39
    assert table.column("audience_vector").codec == "NONE"
    for name in ("audience_confidence", "content_confidence", "confidence_score"):
        assert table.column(name).type == "Float64"  # Float32 before commit 39eb1de
    assert [c.name for c in table.columns if c.materialized] == ["h3_res7", "h3_res9", "geohash"]


def test_tables_have_the_column_counts_the_spec_states(loaded: Ch) -> None:
    counts = {
        row["table"]: int(row["n"])
        for row in loaded.rows(
            f"SELECT table, count() AS n FROM system.columns WHERE database = '{DB}' GROUP BY table"
        )
    }
    for table, count in SPEC_COLUMN_COUNTS.items():
        assert len(TABLES[table].columns) == count, table
        assert counts[table] == count, table


def test_every_table_has_the_catalogue_columns_in_order_with_their_types(loaded: Ch) -> None:
    for table in TABLES.values():
        stored = loaded.rows(
            "SELECT name, type, default_kind, compression_codec FROM system.columns"
            " WHERE database = {db:String} AND table = {t:String} ORDER BY position",
            {"db": DB, "t": table.name},
        )
        expected = [
            {
                "name": column.name,
                "type": column.type,
                "default_kind": default_kind(column),
                "compression_codec": f"CODEC({column.codec})" if column.codec else "",
            }
            for column in table.columns
        ]
        assert stored == expected, table.name


def default_kind(column: Column) -> str:
    if column.materialized is not None:
        return "MATERIALIZED"
    return "DEFAULT" if column.default is not None else ""


def test_every_default_expression_is_stored_as_the_catalogue_writes_it(loaded: Ch) -> None:
    normalise = "SELECT formatQuery('SELECT ' || {e:String}) AS q"
    for table in TABLES.values():
        stored = {
            row["name"]: row["default_expression"]
            for row in loaded.rows(
                "SELECT name, default_expression FROM system.columns"
                " WHERE database = {db:String} AND table = {t:String}",
                {"db": DB, "t": table.name},
            )
        }
        for column in table.columns:
            expression = column.default or column.materialized
            if expression is None:
                continue
            assert loaded.value(normalise, {"e": expression}) == loaded.value(
                normalise, {"e": stored[column.name]}
            ), f"{table.name}.{column.name}"


def test_defaults_the_spec_singles_out_are_kept(loaded: Ch) -> None:
    def default(table: str, column: str) -> str:
        return str(
            loaded.value(
                "SELECT default_expression FROM system.columns"
                " WHERE database = {db:String} AND table = {t:String} AND name = {c:String}",
                {"db": DB, "t": table, "c": column},
            )
        )

    assert default("events", "eid") == "generateUUIDv4()"
    assert default("events", "params") == "'{}'"
    assert default("payments", "currency") == "'USD'"
    assert default("mstore", "scheduled_local_hour") == "-1"
    assert default("mstore", "updated_at") == "toDateTime64(0, 3)"
    assert default("mtriage", "updated_at") == "now64(3)"
    assert default("visitor_interests", "vector_model") == "'gte-small'"


def test_engines_and_keys_match_the_catalogue(loaded: Ch) -> None:
    stored = {row["name"]: row for row in storage_tables(loaded)}
    assert set(stored) == set(TABLES)
    for table in TABLES.values():
        row = stored[table.name]
        assert row["engine"] == table.engine, table.name
        assert row["sorting_key"] == sorting_key(table.order_by), table.name
        assert row["partition_key"] == (table.partition_by or ""), table.name
        args = f"({', '.join(table.engine_args)})" if table.engine_args else ""
        assert re.match(rf"{table.engine}{re.escape(args)}( |$)", row["engine_full"]), table.name


def test_engines_and_keys_are_the_ones_the_spec_states(loaded: Ch) -> None:
    stored = {row["name"]: row for row in storage_tables(loaded)}
    events = stored["events"]
    assert (events["engine"], events["sorting_key"]) == ("MergeTree", "created_at, eid")
    # Monthly, not (oid, month) as in Go: a batch spanning many orgs must stay one part.
    assert events["partition_key"] == "toYYYYMM(created_at)"
    assert (
        stored["mthreads"]["partition_key"]
        == stored["mstore"]["partition_key"]
        == "toYYYYMM(created_at)"
    )
    assert stored["ltv"]["engine_full"].startswith(
        "SummingMergeTree(paid) ORDER BY (hhash, id, id_type)"
    )
    assert stored["hits"]["engine_full"].startswith(
        "SummingMergeTree(total) PARTITION BY toYYYYMM(date)"
    )
    assert stored["counters"]["sorting_key"] == "id"
    assert stored["mthreads"]["engine_full"].startswith("ReplacingMergeTree PARTITION BY")
    assert stored["visitor_interests"]["engine_full"].startswith("ReplacingMergeTree(updated_at)")
    assert stored["mstore"]["engine"] == stored["mtriage"]["engine"] == "MergeTree"


def test_projections_are_the_ones_the_spec_states(loaded: Ch) -> None:
    stored = {
        (row["table"], row["name"])
        for row in loaded.rows(
            f"SELECT table, name FROM system.projections WHERE database = '{DB}'"
        )
    }
    assert stored == {
        ("events", "tid_proj"),
        ("events", "uid_proj"),
        ("events", "vid_proj"),
        ("payments", "invid_proj"),
        ("logs", "level_proj"),
        ("logs", "topic_proj"),
        ("updates", "updated_at_proj"),
    }


def test_every_table_keeps_a_deduplication_window(loaded: Ch) -> None:
    for row in storage_tables(loaded):
        assert "non_replicated_deduplication_window = 1000" in row["engine_full"], row["name"]


def test_one_event_feeds_hits_ips_reqs_and_referrers_once(loaded: Ch) -> None:
    loaded.insert_events(
        [
            {
                "vid": "5b7d2f4e-3c1a-4e8b-9f00-000000000001",
                "hhash": "h1",
                "url": "//a.example/p",
                "last": "//ref.example/",
                "ip": "192.0.2.1",
            }
        ]
    )
    hits = loaded.rows(
        f"SELECT hhash, url, total, date = toDate(now64(3), 'UTC') AS today FROM {DB}.hits"
    )
    assert hits == [{"hhash": "h1", "url": "//a.example/p", "total": 1, "today": 1}]
    assert loaded.rows(f"SELECT hhash, ip, total FROM {DB}.ips") == [
        {"hhash": "h1", "ip": "192.0.2.1", "total": 1}
    ]
    assert loaded.rows(f"SELECT toString(vid) AS vid, total FROM {DB}.reqs") == [
        {"vid": "5b7d2f4e-3c1a-4e8b-9f00-000000000001", "total": 1}
    ]
    assert loaded.rows(f"SELECT url, total FROM {DB}.referrers") == [
        {"url": "//ref.example/", "total": 1}
    ]
    assert loaded.total("browsers") == 0


def test_events_without_url_ip_or_referrer_feed_only_reqs(loaded: Ch) -> None:
    loaded.insert_events([{"hhash": "h1", "ename": "ping"}])
    assert [loaded.total(t) for t in ("hits", "ips", "referrers", "reqs")] == [0, 0, 0, 1]


def test_browsers_counts_only_events_with_a_browser_and_its_hash(loaded: Ch) -> None:
    loaded.insert_events(
        [
            {"hhash": "h1", "bhash": "b1", "browser": ""},
            {"hhash": "h1", "bhash": "", "browser": "mozilla/5.0"},
            {"hhash": "h1", "bhash": "b1", "browser": "mozilla/5.0"},
        ]
    )
    assert loaded.rows(f"SELECT hhash, bhash, browser, total FROM {DB}.browsers") == [
        {"hhash": "h1", "bhash": "b1", "browser": "mozilla/5.0", "total": 1}
    ]


def test_replayed_events_batch_is_stored_once_in_events_and_in_the_counters(loaded: Ch) -> None:
    batch = [
        {
            "hhash": "h1",
            "url": "//a/1",
            "last": "//r/",
            "ip": "192.0.2.1",
            "bhash": "b",
            "browser": "x",
        },
        {
            "hhash": "h1",
            "url": "//a/2",
            "last": "//r/",
            "ip": "192.0.2.2",
            "bhash": "b",
            "browser": "x",
        },
    ]
    replay = "insert_deduplication_token = 'spool-0-2', deduplicate_blocks_in_dependent_materialized_views = 1"
    loaded.insert_events(batch, replay)
    loaded.insert_events(batch, replay)
    assert loaded.value(f"SELECT count() FROM {DB}.events") == 2
    for table in sorted(VIEW_FED_TABLES - {"dashboard_events"}):
        assert loaded.total(table) == 2, table
    assert loaded.value(f"SELECT count() FROM {DB}.dashboard_events") == 2  # a copy, not a sum

    loaded.insert_events(batch, replay.replace("spool-0-2", "spool-2-4"))  # a new batch counts
    assert loaded.value(f"SELECT count() FROM {DB}.events") == 4
    assert loaded.total("hits") == 4


def test_json_columns_take_an_object_and_default_to_an_empty_one(loaded: Ch) -> None:
    loaded.insert_events([{"ename": "j", "params": {"plan": "pro", "n": 2}}])
    row = loaded.rows(f"SELECT params.plan AS plan, toString(targets) AS targets FROM {DB}.events")
    assert row == [{"plan": "pro", "targets": "{}"}]


def test_visitor_interests_derives_h3_cells_and_geohash_from_the_location(loaded: Ch) -> None:
    loaded.run(
        f"INSERT INTO {DB}.visitor_interests (vid, last_lat, last_lon) VALUES"
        " ('5b7d2f4e-3c1a-4e8b-9f00-000000000001', 37.7749, -122.4194),"
        " ('5b7d2f4e-3c1a-4e8b-9f00-000000000002', 0, 0)"
    )
    rows = loaded.rows(
        f"SELECT h3_res7, h3_res9, geohash, h3_res7 = geoToH3(-122.4194, 37.7749, 7) AS h3_ok"
        f" FROM {DB}.visitor_interests ORDER BY vid"
    )
    assert rows[0]["h3_ok"] == 1
    assert rows[0]["h3_res9"] != 0
    assert rows[0]["geohash"] == "9q8yyk8"
    assert rows[1] == {"h3_res7": 0, "h3_res9": 0, "geohash": "", "h3_ok": 0}


def test_views_give_the_first_and_last_event_per_visitor_and_session(loaded: Ch) -> None:
    vid = "5b7d2f4e-3c1a-4e8b-9f00-000000000001"
    loaded.insert_events(
        [
            {"vid": vid, "sid": vid, "ename": "second", "created_at": "2026-01-02 00:00:00.000"},
            {"vid": vid, "sid": vid, "ename": "first", "created_at": "2026-01-01 00:00:00.000"},
            {"vid": vid, "sid": vid, "ename": "last", "created_at": "2026-01-03 00:00:00.000"},
        ]
    )
    assert loaded.rows(f"SELECT ename FROM {DB}.visitors") == [{"ename": "first"}]
    assert loaded.rows(f"SELECT ename FROM {DB}.visitors_latest") == [{"ename": "last"}]
    assert loaded.rows(f"SELECT ename FROM {DB}.sessions") == [{"ename": "first"}]


def test_events_recent_shows_only_the_last_seven_days(loaded: Ch) -> None:
    loaded.insert_events([{"ename": "old", "created_at": "2020-01-01 00:00:00.000"}])
    loaded.insert_events([{"ename": "new"}])
    assert loaded.rows(f"SELECT ename FROM {DB}.events_recent") == [{"ename": "new"}]


def test_render_names_the_database_it_is_given(ch: Ch) -> None:
    ch.load(render(database="tenant_b"))
    ch.run("INSERT INTO tenant_b.events (url) VALUES ('//a/')")
    assert ch.value("SELECT sum(total) FROM tenant_b.hits") == 1
    assert all("sfpla" not in statement for statement in render(database="tenant_b"))


def test_cluster_render_has_replicated_local_tables_and_distributed_twins() -> None:
    text = "\n".join(render(Topology.CLUSTER))
    assert "CREATE DATABASE IF NOT EXISTS sfpla ON CLUSTER tracker_cluster" in text
    assert "CREATE TABLE IF NOT EXISTS sfpla.events_local ON CLUSTER tracker_cluster" in text
    keeper = "'/clickhouse/tables/{layer}-{shard}/{database}/{table}', '{replica}'"
    assert f"ENGINE = ReplicatedMergeTree({keeper})\n" in text
    assert f"ENGINE = ReplicatedSummingMergeTree({keeper}, paid)\n" in text
    assert f"ENGINE = ReplicatedReplacingMergeTree({keeper}, updated_at)\n" in text
    assert "ENGINE = Distributed(tracker_cluster, sfpla, events_local, cityHash64(vid))" in text
    assert "rand()" not in text
    assert "non_replicated_deduplication_window" not in text
    assert text.count("replicated_deduplication_window = 1000") == len(ALL_TABLES)
    assert (
        "CREATE MATERIALIZED VIEW IF NOT EXISTS sfpla.hits_mv ON CLUSTER tracker_cluster"
        " TO sfpla.hits AS" in text
    )
    assert "FROM sfpla.events " in text
    assert "FROM sfpla.events_local" not in text


def test_cluster_render_creates_every_table_as_local_plus_distributed() -> None:
    statements = render(Topology.CLUSTER, database="db1", cluster="c1")
    assert all(" ON CLUSTER c1" in statement for statement in statements)
    assert all("IF NOT EXISTS" in statement for statement in statements)
    for table in TABLES.values():
        local, distributed = create_table_sql(table, Topology.CLUSTER, "db1", "c1")
        assert local.startswith(
            f"CREATE TABLE IF NOT EXISTS db1.{table.name}_local ON CLUSTER c1\n"
        )
        assert f"ENGINE = Replicated{table.engine}" in local
        assert distributed == (
            f"CREATE TABLE IF NOT EXISTS db1.{table.name} ON CLUSTER c1 AS db1.{table.name}_local\n"
            f"ENGINE = Distributed(c1, db1, {table.name}_local, {sharding_key(table)})"
        )


def test_sharding_keys_are_deterministic_and_keep_merging_rows_together() -> None:
    """A replayed batch must reach the shards that took it first (no rand(), no now()), and rows
    a Replacing/Summing table merges into one must share a shard (FINAL is exact)."""
    assert sharding_key(TABLES["events"]) == "cityHash64(vid)"
    assert sharding_key(TABLES["hits"]) == "cityHash64(hhash, url)"  # not `date`: today()
    assert sharding_key(TABLES["payments"]) == "cityHash64(oid, org)"  # not `id`: a new UUID
    for table in TABLES.values():
        key = sharding_key(table)
        assert "rand" not in key, table.name
        assert "now" not in key, table.name
        if table.engine != "MergeTree":
            hashed = re.findall(r"\w+", key.removeprefix("cityHash64"))
            assert set(hashed) <= set(re.findall(r"\w+", table.order_by)), table.name
    custom = Table("t", (Column("a", "String"),), "MergeTree", order_by="a", shard_key="a")
    assert sharding_key(custom) == "a"


def test_every_cluster_statement_is_valid_clickhouse_syntax(ch: Ch) -> None:
    for statement in render(Topology.CLUSTER):
        ch.value("SELECT formatQuery({q:String})", {"q": ch.param(statement)})


def test_render_refuses_a_database_name_that_is_not_an_identifier() -> None:
    with pytest.raises(ValueError, match="Database name 'x; DROP' is not a plain identifier"):
        render(database="x; DROP")


def test_inserts_target_the_plain_table_name_in_every_topology() -> None:
    assert insert_target("events", Topology.EMBEDDED) == "events"
    assert insert_target("events", Topology.CLUSTER) == "events"
    with pytest.raises(KeyError, match="no_such"):
        insert_target("no_such", Topology.EMBEDDED)


def test_counter_tables_fed_by_views_are_the_five_the_spec_names() -> None:
    counters = {"hits", "ips", "reqs", "browsers", "referrers"}
    assert counters | {"dashboard_events"} == VIEW_FED_TABLES  # and the dashboard's copy


def test_materialized_columns_are_not_insertable() -> None:
    names = [column.name for column in TABLES["visitor_interests"].insertable()]
    assert "h3_res7" not in names
    assert "geohash" not in names
    assert len(names) == len(TABLES["visitor_interests"].columns) - 3


def test_a_table_rejects_an_unknown_engine() -> None:
    with pytest.raises(ValueError, match="engine 'Log'"):
        Table("t", (Column("a", "String"),), engine="Log")

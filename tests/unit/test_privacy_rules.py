"""The analytics consent gate and prune-rule compilation, without a store."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tracker.config import PruneField, PruneRule
from tracker.normalise.event import NormaliseContext, Origin, normalise
from tracker.normalise.geoip import GeoRecord
from tracker.normalise.urls import UrlFilter
from tracker.plan.event_rows import plan_event
from tracker.privacy.prune_sql import PruneConfigError, compile_rule, resolve_table
from tracker.privacy.store import Column

ORIGIN = Origin(
    ip="203.0.113.7",
    host="tr.example.com",
    user_agent="Mozilla/5.0",
    culture="en",
    request_uri="/tr/v1/tr/",
    ja4h="",
    now=datetime(2026, 1, 2, tzinfo=UTC),
)


class CountingGeoIP:
    """A GeoIP database that remembers being asked."""

    def __init__(self) -> None:
        self.asked = 0

    def lookup(self, ip: str) -> GeoRecord | None:
        self.asked += 1
        return None


def test_an_event_without_the_analytics_bits_is_refused_before_any_enrichment() -> None:
    geoip = CountingGeoIP()
    ctx = NormaliseContext(
        url_filter=UrlFilter(None), ip_secret=b"k", geoip=geoip, cflags_analytics=2 | 4
    )
    refused = normalise({"cflags": 2, "email": "a@b.c"}, ORIGIN, ctx, is_server=False)
    absent = normalise({}, ORIGIN, ctx, is_server=False)
    assert (refused.consented, absent.consented, geoip.asked) == (False, False, 0)
    assert (refused.iphash, refused.ehash, plan_event(refused)) == ("", None, [])
    stored = normalise({"cflags": 7}, ORIGIN, ctx, is_server=False)
    assert stored.consented
    assert geoip.asked == 1
    assert plan_event(stored)[0][0] == "events"


COLUMNS = {
    name: Column(name, type_, in_key, in_key, position)
    for position, (name, type_, in_key) in enumerate(
        [
            ("created_at", "DateTime64(3)", True),
            ("eid", "UUID", True),
            ("ip", "String", False),
            ("cflags", "Int64", False),
            ("params", "JSON", False),
        ]
    )
}


def test_a_prune_rule_becomes_one_update_with_the_hash_merged_into_params() -> None:
    rule = PruneRule(
        table="sessions",
        ttl=3600,
        cflags_ignore=(1, 4),
        fields=(PruneField(id="ip", dest_param_hash="iphash"),),
    )
    compiled = compile_rule(0, rule, COLUMNS, now=10_000)
    assert compiled.table == "events"
    assert compiled.where == (
        "`created_at` < toDateTime64(6400, 3) AND bitAnd(cflags, 5) = 0 AND "
        "(`ip` != defaultValueOfTypeName('String'))"
    )
    assert compiled.assignments is not None
    assert compiled.assignments.startswith("`ip` = defaultValueOfTypeName('String'), params = ")
    assert "JSONMergePatch(toJSONString(params)" in compiled.assignments
    assert compiled.order_key == ("created_at", "created_at", "eid")


def test_prune_rules_naming_unknown_tables_or_columns_are_refused() -> None:
    with pytest.raises(PruneConfigError, match="expected one of"):
        resolve_table("nodes")
    no_column = PruneRule(table="events", fields=(PruneField(id="nope"),))
    with pytest.raises(PruneConfigError, match="has no column 'nope'"):
        compile_rule(1, no_column, COLUMNS, now=0)
    with pytest.raises(PruneConfigError, match="neither ClearAll"):
        compile_rule(2, PruneRule(table="events"), COLUMNS, now=0)

"""Analytics tables: events, the counters, the lookup tables, visitor_interests.

Column order, types and defaults are those of the Go tracker's schema (``analytics.1.sql``).
"""

from __future__ import annotations

from tracker.schema.columns import (
    AS,
    DT,
    EPOCH,
    F64,
    I32,
    I64,
    JB,
    LC,
    NEW_UUID,
    NOW,
    U64,
    VEC,
    D,
    J,
    S,
    U,
    offset_projection,
)
from tracker.schema.model import Column, Table

MONTHLY_BY_CREATED = "toYYYYMM(created_at)"

EVENTS = Table(
    name="events",
    columns=(
        U("eid", NEW_UUID),
        U("oid"),
        LC("org"),
        U("vid"),
        U("device_id"),
        U("sid"),
        S("hhash"),
        S("app"),
        S("rel"),
        I64("cflags"),
        DT("created_at", NOW),
        U("uid"),
        U("tid"),
        S("last"),
        S("url"),
        S("ip"),
        S("iphash"),
        F64("lat"),
        F64("lon"),
        S("ptyp"),
        S("bhash"),
        U("auth_id"),
        I64("duration"),
        S("xid"),
        S("split"),
        S("ename"),
        S("source"),
        S("medium"),
        S("campaign"),
        S("content"),
        S("country"),
        S("region"),
        S("city"),
        S("zip"),
        S("term"),
        S("etyp"),
        I32("ver"),
        S("sink"),
        F64("score"),
        JB("params"),  # bounded: the keys are the client's
        U("invoice_id"),
        JB("targets"),
        S("relation"),
        U("rid"),
        S("ja4h"),
        S("gaid"),
        S("idfa"),
        S("msid"),
        S("fbid"),
        S("culture"),
        U("ref"),
        S("rcode"),
        S("aff"),
        S("arm_id"),
        S("mcid"),
        S("browser"),
        S("device"),
        S("os"),
        S("tz"),
        I64("vp_w"),
        I64("vp_h"),
    ),
    engine="MergeTree",
    partition_by=MONTHLY_BY_CREATED,  # Go: (oid, month); see docs/differences.md
    order_by="(created_at, eid)",
    projections=(
        offset_projection("tid_proj", "tid"),
        offset_projection("uid_proj", "uid"),
        offset_projection("vid_proj", "vid"),
    ),
    settings=(
        ("index_granularity", "8192"),
        ("deduplicate_merge_projection_mode", "'rebuild'"),
        ("parts_to_delay_insert", "30000"),
        ("parts_to_throw_insert", "50000"),
    ),
)


def counter(name: str, key: tuple[Column, ...], date: str = "date") -> Table:
    """A SummingMergeTree counter: ``key`` columns, ``total``, and the day they count."""
    names = ", ".join(column.name for column in key)
    return Table(
        name=name,
        columns=(*key, U64("total"), D(date)),
        engine="SummingMergeTree",
        engine_args=("total",),
        partition_by=f"toYYYYMM({date})",
        order_by=f"({names}, {date})",
    )


IPS = counter("ips", (S("hhash"), S("ip")))
HITS = counter("hits", (S("hhash"), S("url")))
REQS = counter("reqs", (S("hhash"), U("vid")))
BROWSERS = counter("browsers", (S("hhash"), S("bhash"), S("browser")))
REFERRERS = counter("referrers", (S("hhash"), S("url")))

DAILIES = Table(
    name="dailies",
    columns=(S("ip"), D("day"), U64("total")),
    engine="SummingMergeTree",
    engine_args=("total",),
    partition_by="toYYYYMM(day)",
    order_by="(ip, day)",
)

COUNTERS = Table(
    name="counters",
    columns=(S("id"), U64("total"), D("date")),
    engine="SummingMergeTree",
    engine_args=("total",),
    partition_by="toYYYYMM(date)",
    order_by="id",  # date is not in the key: one row per id and month (as in Go, verified)
)

OUTCOMES = Table(
    name="outcomes",
    columns=(S("hhash"), S("outcome"), S("sink"), D("created"), S("url"), U64("total")),
    engine="SummingMergeTree",
    engine_args=("total",),
    partition_by="toYYYYMM(created)",
    order_by="(hhash, outcome, sink, url, created)",
)

LTV = Table(
    name="ltv",
    columns=(
        S("hhash"),
        U("id"),
        LC("id_type"),
        F64("paid"),
        U("oid"),
        LC("org"),
        DT("updated_at", NOW),
        U("updater"),
        DT("created_at", NOW),
        U("owner"),
    ),
    engine="SummingMergeTree",
    engine_args=("paid",),
    order_by="(hhash, id, id_type)",
)


def lookup(name: str, columns: tuple[Column, ...], order_by: str, monthly: bool = True) -> Table:
    """A ReplacingMergeTree(created_at) mapping; every lookup table ends with ``created_at``."""
    return Table(
        name=name,
        columns=(*columns, DT("created_at", NOW)),
        engine="ReplacingMergeTree",
        engine_args=("created_at",),
        partition_by=MONTHLY_BY_CREATED if monthly else None,
        order_by=order_by,
    )


HOSTS = lookup("hosts", (S("hhash"), S("hostname")), "(hhash, hostname)", monthly=False)
USERHOSTS = lookup("userhosts", (S("hhash"), U("uid"), U("vid"), U("sid")), "(hhash, uid, vid)")
USERNAMES = lookup("usernames", (S("hhash"), S("uhash"), U("vid"), U("sid")), "(hhash, uhash, vid)")
EMAILS = lookup("emails", (S("hhash"), S("ehash"), U("vid"), U("sid")), "(hhash, ehash)")
CELLS = lookup("cells", (S("hhash"), S("chash"), U("vid"), U("sid")), "(hhash, chash, vid)")

_KNOWN_LOCATION = "last_lat != 0 AND last_lon != 0"

# The last published definition (commit 63c8f30); the Go repository no longer ships its DDL.
VISITOR_INTERESTS = Table(
    name="visitor_interests",
    columns=(
        U("vid"),
        U("uid"),
        U("oid"),
        LC("org"),
        AS("audience_tags"),
        J("audience_counts"),
        VEC("audience_vector"),
        F64("audience_confidence"),
        AS("content_tags"),
        J("content_counts"),
        VEC("content_vector"),
        F64("content_confidence"),
        AS("interests"),
        J("interest_counts"),
        VEC("interest_vector"),
        AS("top_interests"),
        J("campaign_sources"),
        S("vector_model", "'gte-small'"),
        DT("vector_generated_at", EPOCH),
        DT("vector_computed_at", EPOCH),
        F64("last_lat"),
        F64("last_lon"),
        S("last_country"),
        S("last_region"),
        S("last_city"),
        S("last_zip"),
        S("last_iphash"),
        DT("location_updated_at", NOW),
        Column(
            "h3_res7",
            "UInt64",
            materialized=f"if({_KNOWN_LOCATION}, geoToH3(last_lon, last_lat, 7), 0)",
        ),
        Column(
            "h3_res9",
            "UInt64",
            materialized=f"if({_KNOWN_LOCATION}, geoToH3(last_lon, last_lat, 9), 0)",
        ),
        Column(
            "geohash",
            "String",
            materialized=f"if({_KNOWN_LOCATION}, geohashEncode(last_lon, last_lat, 7), '')",
        ),
        DT("first_seen", EPOCH),
        DT("last_updated", EPOCH),
        I64("total_interactions"),
        I64("unique_campaigns"),
        F64("confidence_score"),
        J("context"),
        DT("created_at", NOW),
        DT("updated_at", NOW),
    ),
    engine="ReplacingMergeTree",
    engine_args=("updated_at",),
    partition_by=MONTHLY_BY_CREATED,  # Go: (oid, month); see docs/differences.md
    order_by="(oid, org, vid, uid)",
)

ANALYTICS_TABLES = (
    EVENTS,
    IPS,
    HITS,
    REQS,
    BROWSERS,
    REFERRERS,
    DAILIES,
    COUNTERS,
    OUTCOMES,
    LTV,
    HOSTS,
    USERHOSTS,
    USERNAMES,
    EMAILS,
    CELLS,
    VISITOR_INTERESTS,
)

__all__ = ["ANALYTICS_TABLES", "EVENTS"]

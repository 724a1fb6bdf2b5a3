"""Reference tables of the Go tracker's messaging schema file that the tracker never touches:
affiliates, thread security, devices, delivery failures, thread visitors and the channel and hourly
impression counters. (The threads, messages, triage, daily impressions and redirects it writes
are in ``tables_messaging.py``.) Column order, types and defaults are the Go schema's.
"""

from __future__ import annotations

from tracker.schema.columns import (
    AS,
    DT,
    EPOCH,
    F64,
    I32,
    I64,
    LC,
    NEW_UUID,
    NOW,
    B,
    D,
    S,
    U,
)
from tracker.schema.model import Table

AFFILIATES = Table(
    name="affiliates",
    columns=(S("hhash"), S("aff"), U("vid"), DT("created_at", NOW), I64("version_ts")),
    engine="ReplacingMergeTree",
    engine_args=("version_ts",),  # the negated creation time: the first affiliate wins
    partition_by="hhash",
    order_by="(hhash, vid)",
)

MSEC = Table(
    name="msec",
    columns=(
        U("tid"),
        U("secid"),
        U("perm_id"),
        B("pending"),
        U("approver"),
        DT("approved", EPOCH),
        DT("created_at", NOW),
        U("oid"),
        LC("org"),
        U("owner"),
        I64("updatedms"),
        DT("updated_at", NOW),
        U("updater"),
    ),
    engine="ReplacingMergeTree",
    engine_args=("updated_at",),
    partition_by="(oid, toYYYYMM(created_at))",
    order_by="(oid, org, tid, secid, created_at)",
)

MDEVICES = Table(
    name="mdevices",
    columns=(
        U("id", NEW_UUID),
        U("oid"),
        LC("org"),
        S("mtype"),
        S("device_token"),
        DT("updated_at", NOW),
        DT("created_at", NOW),
    ),
    engine="ReplacingMergeTree",
    engine_args=("updated_at",),
    partition_by="oid",
    order_by="(oid, org, id)",
)

MFAILURES = Table(
    name="mfailures",
    columns=(
        U("tid"),
        U("mid"),
        U("uid"),
        S("mtype"),
        U("mdevice_id"),
        S("failure"),
        I32("retries"),
        DT("died", EPOCH),
        DT("created_at", NOW),
        U("oid"),
        LC("org"),
        U("owner"),
        DT("updated_at", NOW),
        U("updater"),
    ),
    engine="ReplacingMergeTree",
    engine_args=("updated_at",),
    partition_by="(oid, toYYYYMM(created_at))",
    order_by="(oid, org, tid, mid, uid, mtype)",
)

THREAD_VISITORS = Table(
    name="thread_visitors",
    columns=(
        U("oid"),
        LC("org"),
        U("tid"),
        U("vid"),
        S("variant_id"),
        DT("first_impression", EPOCH),
        DT("last_impression", EPOCH),
        I32("impression_count"),
        AS("interactions"),
        B("conversion"),
        F64("conversion_value"),
        DT("created_at", NOW),
    ),
    engine="ReplacingMergeTree",
    engine_args=("created_at",),
    partition_by="(oid, tid)",
    order_by="(oid, org, tid, vid)",
)

CHANNEL_METRICS = Table(
    name="channel_metrics",
    columns=(
        S("channel"),
        U("oid"),
        LC("org"),
        D("day"),
        I64("impressions"),
        I64("unique_visitors"),
        I64("clicks"),
        I64("conversions"),
        F64("conversion_value"),
        DT("updated_at", NOW),
    ),
    engine="SummingMergeTree",
    engine_args=("(impressions, unique_visitors, clicks, conversions, conversion_value)",),
    partition_by="(oid, toYYYYMM(day))",
    order_by="(oid, org, channel, day)",
)

_IMPRESSION_COUNTS = (
    "total_impressions",
    "anonymous_impressions",
    "identified_impressions",
    "unique_visitors",
    "conversions",
)

IMPRESSION_HOURLY = Table(
    name="impression_hourly",
    columns=(
        U("tid"),
        U("oid"),
        LC("org"),
        D("day"),
        I32("hour"),
        S("variant_id"),
        *(I64(name) for name in _IMPRESSION_COUNTS),
        DT("updated_at", NOW),
    ),
    engine="SummingMergeTree",
    engine_args=(f"({', '.join(_IMPRESSION_COUNTS)})",),
    partition_by="(oid, toYYYYMM(day))",
    order_by="(oid, org, tid, day, hour, variant_id)",
)

OUTREACH_REFERENCE_TABLES = (
    AFFILIATES,
    MSEC,
    MDEVICES,
    MFAILURES,
    THREAD_VISITORS,
    CHANNEL_METRICS,
    IMPRESSION_HOURLY,
)

__all__ = ["OUTREACH_REFERENCE_TABLES"]

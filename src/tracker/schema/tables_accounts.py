"""Payments, consent agreements, NATS-fed logs and updates, and the tables the tracker only reads
(accounts, orgs, jurisdictions, sequences), in the Go tracker's schema's column order.
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
    U32,
    B,
    D,
    J,
    S,
    U,
    offset_projection,
)
from tracker.schema.model import Column, Table

REBUILD_PROJECTIONS = ("deduplicate_merge_projection_mode", "'rebuild'")

PAYMENTS = Table(
    name="payments",
    columns=(
        U("id", NEW_UUID),
        U("oid"),
        LC("org"),
        U("tid"),
        U("uid"),
        U("vid"),
        U("sid"),
        U("invid"),
        U("orid"),
        DT("invoiced_at", NOW),
        S("product"),
        U("product_id"),
        S("pcat"),
        S("man"),
        S("model"),
        F64("qty"),
        I64("duration"),
        DT("starts", NOW),
        DT("ends", NOW),
        F64("price"),
        F64("discount"),
        F64("revenue"),
        F64("margin"),
        F64("cost"),
        F64("tax"),
        F64("tax_rate"),
        F64("commission"),
        F64("referral"),
        F64("fees"),
        F64("subtotal"),
        F64("total"),
        F64("payment"),
        S("currency", "'USD'"),
        S("country"),
        S("rcode"),
        S("region"),
        S("campaign_id"),
        DT("paid_at", NOW),
        DT("created_at", NOW),
        DT("updated_at", NOW),
    ),
    engine="ReplacingMergeTree",
    engine_args=("updated_at",),
    partition_by="toYYYYMM(created_at)",  # Go: (month, oid)
    order_by="(oid, org, id)",
    projections=(offset_projection("invid_proj", "invid"),),
    settings=(REBUILD_PROJECTIONS,),
)

AGREEMENT_COLUMNS: tuple[Column, ...] = (
    U("vid"),
    DT("created_at", NOW),
    DT("updated_at", NOW),
    J("compliances"),
    I64("cflags"),
    U("sid"),
    U("uid"),
    U("avid"),
    S("hhash"),
    S("app"),
    S("rel"),
    S("url"),
    S("ip"),
    S("iphash"),
    S("gaid"),
    S("idfa"),
    S("msid"),
    S("fbid"),
    S("country"),
    S("region"),
    S("culture"),
    S("source"),
    S("medium"),
    S("campaign"),
    S("term"),
    U("ref"),
    S("rcode"),
    S("aff"),
    S("browser"),
    S("bhash"),
    S("device"),
    S("os"),
    S("tz"),
    I64("vp_w"),
    I64("vp_h"),
    J("loc"),
    F64("lat"),
    F64("lon"),
    S("zip"),
    U("owner"),
    U("oid"),
    LC("org"),
)


def agreement_table(name: str) -> Table:
    """agreements and agreed hold identical rows; every POST is a new row (no partition)."""
    return Table(
        name=name,
        columns=AGREEMENT_COLUMNS,
        engine="ReplacingMergeTree",
        engine_args=("updated_at",),
        order_by="(vid, created_at, updated_at)",
    )


AGREEMENTS = agreement_table("agreements")
AGREED = agreement_table("agreed")

LOGS = Table(
    name="logs",
    columns=(
        U("id", NEW_UUID),
        D("ldate"),
        DT("created_at", NOW),
        Column("ltime", "DateTime64(9)", "toDateTime64(0, 9)"),
        S("topic"),
        S("name"),
        S("host"),
        S("hostname"),
        U("oid"),
        LC("org"),
        U("owner"),
        S("ip"),
        S("iphash"),
        I32("level"),
        S("msg"),
        J("params"),
    ),
    engine="MergeTree",
    partition_by="toYYYYMM(ldate)",
    order_by="(created_at, id)",
    projections=(
        offset_projection("level_proj", "level"),
        offset_projection("topic_proj", "topic"),
    ),
)

UPDATES = Table(
    name="updates",
    columns=(S("id"), DT("updated_at", NOW), S("msg")),
    engine="ReplacingMergeTree",
    engine_args=("updated_at",),
    order_by="id",
    projections=(offset_projection("updated_at_proj", "updated_at"),),
    # ClickHouse refuses a projection on a Replacing table without this (code 344).
    settings=(REBUILD_PROJECTIONS,),
)

ACCOUNTS = Table(
    name="accounts",
    columns=(
        U("uid"),
        S("pwd"),
        S("ip"),
        S("msg"),
        DT("expires", EPOCH),
        J("creds"),
        DT("created_at", NOW),
        DT("updated_at", NOW),
        U("owner"),
    ),
    engine="ReplacingMergeTree",
    engine_args=("updated_at",),
    partition_by="toYYYYMM(created_at)",
    order_by="uid",
)

# The tracker reads only ddata (default_destination_host, tracker_host). Where the Go schema puts
# ddata among the other columns is not known here, so it sits before the audit columns.
ORGS = Table(
    name="orgs",
    columns=(
        U("oid"),
        LC("org"),
        U("parent"),
        U("root"),
        S("lname"),
        S("hname"),
        S("notes"),
        AS("roles"),
        AS("rights"),
        S("etype"),
        S("country"),
        S("lang"),
        U("hq_id"),
        J("addresses"),
        S("host"),
        S("hhash"),
        S("taxid"),
        DT("terms_accepted", EPOCH),
        J("mcerts"),
        D("expiry"),
        S("email"),
        S("phone"),
        S("slack_webhook_url"),
        J("ddata"),
        DT("created_at", NOW),
        U("owner"),
        DT("updated_at", NOW),
        U("updater"),
    ),
    engine="ReplacingMergeTree",
    engine_args=("updated_at",),
    order_by="(oid, org)",
)

JURISDICTIONS = Table(
    name="jurisdictions",
    columns=(
        S("regulation"),
        S("compliance"),
        U32("seq"),
        J("rules"),
        J("locs"),
        DT("updated_at", NOW),
    ),
    engine="ReplacingMergeTree",
    engine_args=("updated_at",),
    partition_by="regulation",
    order_by="(regulation, compliance, seq)",
)

# Version markers (DB_VER = 3, MSGXC_VER = 2, …); the Go schema names the value column ``seq``.
SEQUENCES = Table(
    name="sequences",
    columns=(S("name"), U32("seq"), DT("updated_at", NOW)),
    engine="ReplacingMergeTree",
    engine_args=("updated_at",),
    order_by="name",
)

# Ours, not the Go tracker's: the public read-only dashboard links, one random token per link.
# A link is turned off by a newer row with enabled = false.
DASHBOARD_SHARES = Table(
    name="dashboard_shares",
    columns=(
        S("token"),
        S("site"),
        B("enabled"),
        U("creator"),
        DT("created_at", NOW),
        DT("updated_at", NOW),
    ),
    engine="ReplacingMergeTree",
    engine_args=("updated_at",),
    order_by="token",
)

PAYMENT_TABLES = (PAYMENTS, AGREEMENTS, AGREED)
OWN_TABLES = (DASHBOARD_SHARES,)
SERVICE_TABLES = (LOGS, UPDATES, ACCOUNTS, ORGS, JURISDICTIONS, SEQUENCES)

__all__ = ["OWN_TABLES", "PAYMENT_TABLES", "SERVICE_TABLES"]

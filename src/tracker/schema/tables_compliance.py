"""Reference tables of the Go tracker's compliance schema file that the tracker never touches:
census data per ZIP, the task queue, cohorts and splits, certificates, settings, and the budget
tables ("Budget Guardian"). (Jurisdictions and agreements, which it does use, are in
``tables_accounts.py``.) Column order, types and defaults are the Go schema's.
"""

from __future__ import annotations

from tracker.schema.columns import (
    AF32,
    AS,
    AU,
    DT,
    EPOCH,
    F64,
    I32,
    LC,
    NOW,
    NULL,
    U16,
    B,
    J,
    S,
    U,
)
from tracker.schema.model import Column, Table

# The census figures per ZIP, in column order: counts are Int32, shares and amounts Float64.
_ZIP_COUNTS = frozenset({"population", "men", "women", "voters", "employed"})
_ZIP_FIGURES = [
    "population",
    "men",
    "women",
    "hispanic",
    "white",
    "black",
    "native",
    "asian",
    "pacific",
    "voters",
    "income",
    "incomeerr",
    "incomepercap",
    "incomepercaperr",
    "poverty",
    "childpoverty",
    "professional",
    "service",
    "office",
    "construction",
    "production",
    "drive",
    "carpool",
    "transit",
    "walk",
    "othertransport",
    "workathome",
    "meancommute",
    "employed",
    "privatework",
    "publicwork",
    "selfemployed",
    "familywork",
    "unemployment",
]

ZIPS = Table(
    name="zips",
    columns=(
        *(S(name) for name in ("country", "zip", "region", "rcode", "county", "city", "culture")),
        *(I32(name) if name in _ZIP_COUNTS else F64(name) for name in _ZIP_FIGURES),
        F64("lat"),
        F64("lon"),
        J("loc"),
        DT("updated_at", NOW),
    ),
    engine="ReplacingMergeTree",
    engine_args=("updated_at",),
    order_by="(country, zip)",
)


def _owned(*, owner: bool = True) -> tuple[Column, ...]:
    """The bookkeeping columns most Go tables end with."""
    head = (DT("created_at", NOW), U("oid"), LC("org"))
    tail = (DT("updated_at", NOW), U("updater"))
    return (*head, *((U("owner"),) if owner else ()), *tail)


QUEUES = Table(
    name="queues",
    columns=(
        S("svc"),
        U("qid"),
        S("qtype"),
        U("sid"),
        S("skey"),
        S("ip"),
        S("host"),
        DT("schedule", EPOCH),
        DT("started", EPOCH),
        DT("completed", EPOCH),
        *_owned(),
    ),
    engine="ReplacingMergeTree",
    engine_args=("updated_at",),
    partition_by="svc",
    order_by="qid",
    ttl="toDateTime(created_at) + INTERVAL 14 DAY",
)

_EMBEDDING_METADATA = (
    S("embedding_model", "'gte-small'"),
    U16("embedding_dimensions", "384"),
    DT("embedding_generated_at", EPOCH),
)

COHORTS = Table(
    name="cohorts",
    columns=(
        S("cohort"),
        S("uids_url"),
        I32("imported"),
        DT("started", EPOCH),
        DT("completed", EPOCH),
        *_owned(),
        AU("uids"),
        AU("vids"),
        J("user_attributes"),
        AF32("user_attributes_gtesmall"),
        AS("target_props"),
        AF32("target_props_gtesmall"),
        *_EMBEDDING_METADATA,
    ),
    engine="ReplacingMergeTree",
    engine_args=("updated_at",),
    order_by="cohort",
)

SPLITS = Table(
    name="splits",
    columns=(
        S("cohort"),
        S("sfam"),
        S("split"),
        I32("seq"),
        AU("uids"),
        AU("vids"),
        F64("pct"),
        *_owned(),
        U("vid"),
        AS("target_props"),
        AF32("target_props_gtesmall"),
        *_EMBEDDING_METADATA,
    ),
    engine="ReplacingMergeTree",
    engine_args=("updated_at",),
    order_by="split",
)

MCERTS = Table(
    name="mcerts",
    columns=(
        U("id"),
        U("oid"),
        LC("org"),
        *(
            S(name)
            for name in (
                [
                    "name",
                    "algo",
                    "spec",
                    "sz",
                    "opub",
                    "opriv",
                    "tpub",
                    "tpriv",
                    "sym",
                    "sver",
                    "sspec",
                    "skey",
                    "dhpub",
                    "dhpriv",
                ]
            )
        ),
        DT("updated_at", NOW),
        DT("expires", EPOCH),
        U("owner_id"),
        S("object_type"),
    ),
    engine="ReplacingMergeTree",
    engine_args=("updated_at",),
    partition_by="oid",
    order_by="(oid, org, id)",
)

COMPLIANCE_SETTINGS = Table(
    name="compliance_settings",
    columns=(
        S("region"),
        U("oid"),
        LC("org"),
        S("setting_key"),
        S("setting_value"),
        S("description"),
        AS("applies_to"),
        DT("created_at", NOW),
        DT("updated_at", NOW),
        U("updater"),
    ),
    engine="ReplacingMergeTree",
    engine_args=("updated_at",),
    order_by="(region, setting_key)",
)

PAYMENT_SETTINGS = Table(
    name="payment_settings",
    columns=(
        S("setting_id"),
        U("oid"),
        LC("org"),
        DT("effective_date", EPOCH),
        F64("value"),
        S("description"),
        DT("end_date", EPOCH),
        DT("created_at", NOW),
        DT("updated_at", NOW),
        U("updater"),
    ),
    engine="ReplacingMergeTree",
    engine_args=("updated_at",),
    partition_by="oid",
    order_by="(oid, org, setting_id, effective_date)",
)


def budget(name: str, columns: tuple[Column, ...], month_of: str, order_by: str) -> Table:
    """A Budget Guardian table: ReplacingMergeTree(updated_at), partitioned by org and month."""
    return Table(
        name=name,
        columns=columns,
        engine="ReplacingMergeTree",
        engine_args=("updated_at",),
        partition_by=f"(oid, toYYYYMM({month_of}))",
        order_by=order_by,
    )


_TENANT = (U("oid"), LC("org"), NULL(U("campaign_id")))

BUDGET_LIMITS = budget(
    "budget_limits",
    (
        U("limit_id"),
        *_TENANT,
        LC("limit_type"),
        F64("amount"),
        S("currency", "'USD'"),
        Column("warning_threshold", "Float64", "0.8"),
        Column("critical_threshold", "Float64", "0.95"),
        Column("auto_pause_enabled", "Bool", "true"),
        DT("created_at", NOW),
        NULL(DT("expires_at")),
        DT("updated_at", NOW),
        NULL(U("updater")),
    ),
    "created_at",
    "(oid, org, limit_id, limit_type, created_at)",
)

BUDGET_ALERTS = budget(
    "budget_alerts",
    (
        U("alert_id"),
        *_TENANT,
        U("limit_id"),
        LC("alert_level"),
        S("message"),
        F64("current_spend"),
        F64("budget_limit"),
        F64("percentage_used"),
        AS("actions_taken"),
        B("resolved"),
        NULL(DT("resolved_at")),
        DT("created_at", NOW),
        DT("updated_at", NOW),
    ),
    "created_at",
    "(oid, org, alert_id, alert_level, created_at)",
)

BUDGET_EMERGENCY_ACTIONS = budget(
    "budget_emergency_actions",
    (
        U("action_id"),
        *_TENANT,
        LC("action_type"),
        S("reason"),
        S("triggered_by"),
        NULL(U("limit_id")),
        NULL(U("alert_id")),
        J("metadata"),
        B("success"),
        NULL(S("error_message")),
        NULL(U("executed_by")),
        DT("updated_at", NOW),
    ),
    "updated_at",
    "(oid, org, action_id, action_type, updated_at)",
)

SPEND_VELOCITY_ANALYTICS = budget(
    "spend_velocity_analytics",
    (
        U("analysis_id"),
        *_TENANT,
        DT("analysis_time", NOW),
        I32("window_hours"),
        *(
            F64(name)
            for name in (
                "current_spend",
                "hourly_burn_rate",
                "daily_burn_rate",
                "projected_daily_spend",
                "projected_weekly_spend",
                "projected_monthly_spend",
                "confidence_score",
            )
        ),
        LC("trend"),
        I32("data_points"),
        DT("updated_at", NOW),
    ),
    "updated_at",
    "(oid, org, analysis_id, analysis_time)",
)

COMPLIANCE_REFERENCE_TABLES = (
    ZIPS,
    QUEUES,
    COHORTS,
    SPLITS,
    MCERTS,
    COMPLIANCE_SETTINGS,
    PAYMENT_SETTINGS,
    BUDGET_LIMITS,
    BUDGET_ALERTS,
    BUDGET_EMERGENCY_ACTIONS,
    SPEND_VELOCITY_ANALYTICS,
)

__all__ = ["COMPLIANCE_REFERENCE_TABLES"]

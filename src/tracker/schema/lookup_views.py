"""The Go schema's 34 materialized views that keep their own rows: copies of a table sorted by
another key, so that a lookup by that key is fast (``payments_by_user``, ``permissions_by_ref`` …),
and the LTV totals per identifier type.

Each has the Go view's name, engine, keys and rows. Those over the plain views ``visitors``,
``visitors_latest`` and ``sessions`` are filled once, when created, and never again: ClickHouse
fires a materialized view on inserts into a table, never into a view (as in the Go tracker).
The tracker writes ``payments`` and ``ltv``, so the views over those fire on its inserts.
"""

from __future__ import annotations

from tracker.schema.model import InnerMaterializedView

MONTH = "toYYYYMM(created_at)"


def copy(
    name: str,
    source: str,
    order_by: str,
    *,
    version: str | None = None,
    partition_by: str | None = None,
    where: str | None = None,
) -> InnerMaterializedView:
    """A ReplacingMergeTree copy of ``source``'s rows, sorted by ``order_by``."""
    select = f"SELECT * FROM {{db}}.{source}" + (f" WHERE {where}" if where else "")
    return InnerMaterializedView(
        name,
        select,
        "ReplacingMergeTree",
        (version,) if version else (),
        order_by=order_by,
        partition_by=partition_by,
    )


def ltv_by(id_type: str) -> InnerMaterializedView:
    return InnerMaterializedView(
        f"ltv_by_{id_type}",
        f"SELECT * FROM {{db}}.ltv WHERE id_type = '{id_type}'",
        "SummingMergeTree",
        ("paid",),
        order_by="(hhash, id)",
    )


def _all_of(kind: str, column: str, extra: str) -> InnerMaterializedView:
    """Every address of a kind a user has: the primary one, then those in the JSON ``extra``.

    One SELECT over an array of both, not the Go schema's UNION ALL: a materialized view fires
    only the first SELECT of a UNION, so the additional addresses never arrived. An address
    without a parseable ``verified_at`` has NULL there (Go's view failed the insert).
    """
    value = f"{kind}_{'address' if kind == 'email' else 'number'}"
    field = f"JSONExtractString(toString({extra}), k, '{{}}')"
    additional = (
        f"arrayMap(k -> (k, 'additional',"
        f" parseDateTime64BestEffortOrZero({field.format('created_at')}, 3),"
        f" parseDateTime64BestEffortOrNull({field.format('verified_at')}, 3)),"
        f" JSONExtractKeys(toString({extra})))"
    )
    primary = (
        f"if({column} != '', [({column}, 'primary', created_at,"
        " CAST(NULL AS Nullable(DateTime64(3))))], [])"
    )
    return InnerMaterializedView(
        f"user_by_all_{kind}s",
        f"SELECT uid, tupleElement(entry, 1) AS {value}, tupleElement(entry, 2) AS {kind}_type,"
        " tupleElement(entry, 3) AS created_at, tupleElement(entry, 4) AS verified_at"
        f" FROM (SELECT uid, arrayJoin(arrayConcat({primary}, {additional})) AS entry"
        " FROM {db}.users)",
        "ReplacingMergeTree",
        order_by=value,
    )


_THREAD_SUMMARY = (
    "tid, provider, medium, alias, xid, xstatus, abz_status, campaign_status, content_status,"
    " created_at, updated_at"
)


def _threads(name: str, where: str) -> InnerMaterializedView:
    return InnerMaterializedView(
        name,
        f"SELECT {_THREAD_SUMMARY} FROM {{db}}.mthreads WHERE {where}",
        "ReplacingMergeTree",
        order_by="(provider, medium, alias)",
    )


def _locs(field: str) -> str:
    return f"JSONExtractString(toString(locs), '{field}') AS {field}"


ANALYTICS_LOOKUPS = (
    copy("visitors_by_time", "visitors", "created_at", partition_by=MONTH),
    copy("visitors_by_uid", "visitors", "uid", version="created_at", partition_by=MONTH),
    copy(
        "visitors_latest_by_uid", "visitors_latest", "uid", version="created_at", partition_by=MONTH
    ),
    copy("visitors_latest_by_time", "visitors_latest", "created_at", partition_by=MONTH),
    copy("sessions_by_time", "sessions", "created_at", partition_by=MONTH),
)

COMPLIANCE_LOOKUPS = (
    InnerMaterializedView(
        "jurisdictions_by_locs",
        f"SELECT *, {_locs('country')}, {_locs('region')}, {_locs('city')}"
        " FROM {db}.jurisdictions",
        "ReplacingMergeTree",
        order_by="(country, region, city)",
    ),
    copy("queues_by_qtype", "queues", "qtype", version="updated_at"),
    copy("queues_by_completed", "queues", "completed", version="updated_at"),
    copy("queues_by_started", "queues", "started"),
)

MESSAGING_LOOKUPS = (
    copy("affiliates_by_time", "affiliates", "created_at", partition_by=MONTH),
    copy("affiliates_by_aff", "affiliates", "aff", partition_by="hhash"),
    copy("redirect_history_by_hostto", "redirect_history", "hostto"),
    copy("msec_by_pending", "msec", "pending"),
    _threads("mthreads_by_website_page", "provider = 'website' AND medium = 'page'"),
    _threads("mthreads_by_chat", "medium = 'chat'"),
    copy("mstore_by_scheduled", "mstore", "scheduled"),
)

USERS_LOOKUPS = (
    copy("payments_by_user", "payments", "(uid, created_at)"),
    copy("payments_by_campaign", "payments", "(campaign_id, created_at)"),
    copy("payments_by_org", "payments", "(oid, org, created_at)"),
    ltv_by("uid"),
    ltv_by("vid"),
    ltv_by("orid"),
    copy("orgs_conglomerate", "orgs", "(root, oid)"),
    InnerMaterializedView(
        "user_by_cohorts",
        "SELECT uid, cohorts FROM {db}.users ARRAY JOIN cohorts",
        "ReplacingMergeTree",
        order_by="cohorts",
    ),
    copy("pprovider_by_owner", "pprovider", "owner"),
    copy("pauth_by_owner", "pauth", "owner"),
    InnerMaterializedView(
        "user_by_username",
        "SELECT uid, username FROM {db}.users WHERE username != ''",
        "ReplacingMergeTree",
        order_by="username",
    ),
    _all_of("email", "email", "additional_emails"),
    _all_of("cell", "cell", "additional_cells"),
)

AUTH_LOOKUPS = tuple(
    copy(f"permissions_by_{key}", "permissions", column)
    for key, column in (
        ("id", "id"),
        ("org", "oid"),
        ("rpath", "rpath"),
        ("ref", "ref"),
        ("action", "action"),
    )
)

LOOKUP_VIEWS = (
    *ANALYTICS_LOOKUPS,
    *COMPLIANCE_LOOKUPS,
    *MESSAGING_LOOKUPS,
    *USERS_LOOKUPS,
    *AUTH_LOOKUPS,
)

__all__ = ["LOOKUP_VIEWS"]

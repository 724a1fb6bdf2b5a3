"""The Go schema's read-side views that the tracker itself never reads: who a visitor is, where
they came from, what they did last, funnels, invoices, and the advertising credentials' state.

Each view has the Go view's name, columns and meaning; the SELECT text is ours. Two things differ
on purpose (docs/differences.md): first/last rows break ties on ``eid`` as the other ``events``
views do, and ``conversion_funnel`` lists only visitors who converted.
"""

from __future__ import annotations

from tracker.schema.model import View

ZERO_UUID = "toUUID('00000000-0000-0000-0000-000000000000')"
CONVERSIONS = "('conversion', 'purchase', 'paid')"


def first_by(name: str, columns: str, where: str, key: str, last: bool = False) -> View:
    """The first (or last) ``events`` row per ``key`` among those matching ``where``."""
    order = "DESC" if last else "ASC"
    return View(
        name,
        f"SELECT {columns} FROM {{db}}.events WHERE {where}"
        f" ORDER BY created_at {order}, eid {order} LIMIT 1 BY {key}",
    )


ANALYTICS_VIEWS = (
    first_by(
        "nodes",
        "hhash, vid, uid, iphash, ip, sid, created_at",
        "ip != '' AND iphash != ''",
        "hhash, vid, iphash",
    ),
    first_by(
        "locations",
        "hhash, vid, lat, lon, uid, sid, created_at",
        "lat != 0 AND lon != 0",
        "hhash, vid, lat, lon",
    ),
    first_by(
        "aliases", "hhash, vid, uid, sid, created_at", f"uid != {ZERO_UUID}", "hhash, vid, uid"
    ),
    first_by(
        "user_sessions",
        "hhash, uid, vid, sid, created_at",
        f"uid != {ZERO_UUID}",
        "hhash, uid, vid, sid",
    ),
    first_by(
        "routed",
        "hhash, ip, url, created_at AS updated_at",
        "ip != '' AND url != ''",
        "hhash, ip",
        last=True,
    ),
    first_by(
        "referrals",
        "hhash, ref, vid, 0 AS gen, created_at, -toInt64(created_at) AS version_ts",
        f"ref != {ZERO_UUID}",
        "hhash, vid",
    ),
    first_by(
        "referred",
        "hhash, rcode, vid, 0 AS gen, created_at, -toInt64(created_at) AS version_ts",
        "rcode != ''",
        "hhash, vid",
    ),
    first_by(
        "last_event_by_vid_uid_ename",
        "oid, org, vid, uid, ename, created_at AS last_occurred, tid AS last_thread,"
        " dateDiff('day', created_at, now()) AS days_since",
        "1",
        "oid, vid, uid, ename",
        last=True,
    ),
    first_by(
        "last_event_by_user",
        "oid, org, uid, ename AS event_type, created_at AS last_event_time,"
        " dateDiff('day', created_at, now()) AS days_since_event",
        "1",
        "oid, uid, ename",
        last=True,
    ),
    View(
        "conversion_funnel",
        "SELECT oid, org, vid, min(created_at) AS first_touch,"
        f" maxIf(created_at, ename IN {CONVERSIONS}) AS conversion_time,"
        f" dateDiff('day', first_touch, conversion_time) AS days_to_conversion,"
        " maxIf(score, ename IN ('purchase', 'paid')) AS conversion_value,"
        f" anyIf(invoice_id, ename IN {CONVERSIONS}) AS invoice_id"
        " FROM {db}.events GROUP BY oid, org, vid"
        f" HAVING countIf(ename IN {CONVERSIONS}) > 0",
    ),
    View(
        "event_frequency",
        "SELECT oid, org, ename AS event_type, count() AS total_events,"
        " uniq(vid) AS unique_visitors, uniq(uid) AS unique_users, min(created_at) AS first_seen,"
        " max(created_at) AS last_seen, avg(score) AS avg_score"
        " FROM {db}.events GROUP BY oid, org, ename ORDER BY total_events DESC",
    ),
)

_INVOICE_ANY = ("invoiced_at", "paid_at", "currency", "country", "campaign_id")
_INVOICE_SUMS = (
    ("qty", "total_qty"),
    ("price * qty", "total_list_price"),
    ("discount", "total_discount"),
    ("subtotal", "invoice_subtotal"),
    ("tax", "invoice_tax"),
    ("total", "invoice_total"),
    ("revenue", "total_revenue"),
    ("margin", "total_margin"),
    ("cost", "total_cost"),
)

PAYMENT_VIEWS = (
    View(
        "invoice_totals",
        "SELECT oid, org, invid, tid, "
        + ", ".join(f"any({name}) AS {name}" for name in _INVOICE_ANY)
        + ", count() AS line_item_count, "
        + ", ".join(f"sum({expression}) AS {alias}" for expression, alias in _INVOICE_SUMS)
        + ", any(commission) AS commission, any(referral) AS referral, any(fees) AS fees,"
        " groupArray(product) AS products, groupArray(product_id) AS product_ids,"
        " min(created_at) AS created_at, max(updated_at) AS updated_at"
        " FROM {db}.payments GROUP BY oid, org, invid, tid",
    ),
    View(
        "campaign_revenue_monthly",
        "SELECT oid, campaign_id, toYYYYMM(created_at) AS month, sum(revenue) AS total_revenue,"
        " count() AS line_item_count, uniq(invid) AS invoice_count,"
        " avg(revenue) AS avg_line_item_value, max(created_at) AS latest_purchase"
        " FROM {db}.payments WHERE campaign_id != '' GROUP BY oid, campaign_id, month",
    ),
)

CREDENTIAL_VIEWS = (
    View(
        "active_platform_credentials",
        "SELECT oid, org, platform, account_id, account_email, token_expires_at, connected_at,"
        " updated_at, multiIf(token_expires_at < now(), 'expired',"
        " token_expires_at < now() + INTERVAL 1 HOUR, 'expiring_soon', 'valid') AS token_status,"
        " dateDiff('day', connected_at, now()) AS days_connected"
        " FROM {db}.platform_credentials WHERE is_valid"
        " ORDER BY oid, org, platform, connected_at DESC",
    ),
    View(
        "platform_credentials_summary",
        "SELECT oid, org, platform, count() AS total_accounts, countIf(is_valid) AS valid_accounts,"
        " countIf(token_expires_at < now()) AS expired_accounts,"
        " min(token_expires_at) AS earliest_expiry, max(connected_at) AS latest_connection"
        " FROM {db}.platform_credentials GROUP BY oid, org, platform ORDER BY oid, org, platform",
    ),
)

REFERENCE_VIEWS = (*ANALYTICS_VIEWS, *PAYMENT_VIEWS, *CREDENTIAL_VIEWS)

__all__ = ["REFERENCE_VIEWS"]

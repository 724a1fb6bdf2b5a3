"""The Go tracker's schema files as object lists, written out independently of the catalogue:
per file, its storage tables (engine family, version or sum column, column count), plain views,
materialized views with their own storage and ``TO`` materialized views.

``make docker-verify-tables`` in the Go repository counts ``system.tables`` of ``sfpla``: 67 local
tables + 67 Distributed tables + 19 views + 39 materialized views + 34 hidden inner tables = 226.
"""

from __future__ import annotations

# table: (engine, engine arguments, number of columns)
GO_TABLES: dict[str, dict[str, tuple[str, str, int]]] = {
    "core": {
        "sequences": ("ReplacingMergeTree", "updated_at", 3),
        "geo_points_dictionary": ("ReplacingMergeTree", "created_at", 4),
        "viewport_dictionary": ("ReplacingMergeTree", "created_at", 4),
        "geo_pols": ("ReplacingMergeTree", "created_at", 8),
        "countries": ("ReplacingMergeTree", "created_at", 4),
        "geo_ip": ("ReplacingMergeTree", "created_at", 13),
        "hosts": ("ReplacingMergeTree", "created_at", 3),
        "outcomes": ("SummingMergeTree", "total", 6),
    },
    "analytics": {
        "events": ("MergeTree", "", 61),
        "usernames": ("ReplacingMergeTree", "created_at", 5),
        "cells": ("ReplacingMergeTree", "created_at", 5),
        "emails": ("ReplacingMergeTree", "created_at", 5),
        "hits": ("SummingMergeTree", "total", 4),
        "ips": ("SummingMergeTree", "total", 4),
        "reqs": ("SummingMergeTree", "total", 4),
        "browsers": ("SummingMergeTree", "total", 5),
        "referrers": ("SummingMergeTree", "total", 4),
    },
    "compliance": {
        "zips": ("ReplacingMergeTree", "updated_at", 45),
        "jurisdictions": ("ReplacingMergeTree", "updated_at", 6),
        "agreements": ("ReplacingMergeTree", "updated_at", 42),
        "agreed": ("ReplacingMergeTree", "updated_at", 42),
        "queues": ("ReplacingMergeTree", "updated_at", 16),
        "cohorts": ("ReplacingMergeTree", "updated_at", 20),
        "splits": ("ReplacingMergeTree", "updated_at", 19),
        "mcerts": ("ReplacingMergeTree", "updated_at", 21),
        "compliance_settings": ("ReplacingMergeTree", "updated_at", 10),
        "payment_settings": ("ReplacingMergeTree", "updated_at", 10),
        "budget_limits": ("ReplacingMergeTree", "updated_at", 14),
        "budget_alerts": ("ReplacingMergeTree", "updated_at", 15),
        "budget_emergency_actions": ("ReplacingMergeTree", "updated_at", 14),
        "spend_velocity_analytics": ("ReplacingMergeTree", "updated_at", 16),
    },
    "messaging": {
        "mthreads": ("ReplacingMergeTree", "", 135),
        "mstore": ("MergeTree", "", 50),
        "mtriage": ("MergeTree", "", 41),
        "impression_daily": ("ReplacingMergeTree", "updated_at", 12),
        "redirects": ("ReplacingMergeTree", "updated_at", 8),
        "redirect_history": ("ReplacingMergeTree", "updated_at", 11),
        "affiliates": ("ReplacingMergeTree", "version_ts", 5),
        "msec": ("ReplacingMergeTree", "updated_at", 13),
        "mdevices": ("ReplacingMergeTree", "updated_at", 7),
        "mfailures": ("ReplacingMergeTree", "updated_at", 14),
        "thread_visitors": ("ReplacingMergeTree", "created_at", 12),
        "channel_metrics": (
            "SummingMergeTree",
            "(impressions, unique_visitors, clicks, conversions, conversion_value)",
            10,
        ),
        "impression_hourly": (
            "SummingMergeTree",
            "(total_impressions, anonymous_impressions, identified_impressions,"
            " unique_visitors, conversions)",
            12,
        ),
    },
    "users": {
        "payments": ("ReplacingMergeTree", "updated_at", 40),
        "ltv": ("SummingMergeTree", "paid", 10),
        "userhosts": ("ReplacingMergeTree", "created_at", 5),
        "addresses": ("ReplacingMergeTree", "updated_at", 12),
        "orgs": ("ReplacingMergeTree", "updated_at", 28),
        "users": ("ReplacingMergeTree", "updated_at", 58),
        "user_verifications": ("ReplacingMergeTree", "updated_at", 9),
        "files": ("ReplacingMergeTree", "updated_at", 41),
        "pprovider": ("ReplacingMergeTree", "updated_at", 7),
        "pauth": ("ReplacingMergeTree", "updated_at", 13),
        "pconfirmation": ("ReplacingMergeTree", "updated_at", 11),
    },
    "auth": {
        "accounts": ("ReplacingMergeTree", "updated_at", 9),
        "services": ("ReplacingMergeTree", "updated_at", 10),
        "action_names": ("ReplacingMergeTree", "created_at", 2),
        "actions": ("ReplacingMergeTree", "updated_at", 12),
        "actions_ext": ("ReplacingMergeTree", "updated_at", 9),
        "dailies": ("SummingMergeTree", "total", 3),
        "counters": ("SummingMergeTree", "total", 3),
        "logs": ("MergeTree", "", 16),
        "updates": ("ReplacingMergeTree", "updated_at", 3),
        "permissions": ("ReplacingMergeTree", "updated_at", 10),
        "platform_credentials": ("ReplacingMergeTree", "updated_at", 13),
        "oauth_states": ("ReplacingMergeTree", "created_at", 9),
    },
}

GO_VIEWS = {
    "analytics": [
        "visitors",
        "visitors_latest",
        "sessions",
        "events_recent",
        "nodes",
        "locations",
        "aliases",
        "user_sessions",
        "routed",
        "referrals",
        "referred",
        "last_event_by_vid_uid_ename",
        "last_event_by_user",
        "conversion_funnel",
        "event_frequency",
    ],
    "users": ["invoice_totals", "campaign_revenue_monthly"],
    "auth": ["active_platform_credentials", "platform_credentials_summary"],
}

# Materialized views with their own storage: name -> (engine, engine arguments, sorting key).
GO_INNER_VIEWS: dict[str, tuple[str, str, str]] = {
    "visitors_by_time": ("ReplacingMergeTree", "", "created_at"),
    "visitors_by_uid": ("ReplacingMergeTree", "created_at", "uid"),
    "visitors_latest_by_uid": ("ReplacingMergeTree", "created_at", "uid"),
    "visitors_latest_by_time": ("ReplacingMergeTree", "", "created_at"),
    "sessions_by_time": ("ReplacingMergeTree", "", "created_at"),
    "jurisdictions_by_locs": ("ReplacingMergeTree", "", "country, region, city"),
    "queues_by_qtype": ("ReplacingMergeTree", "updated_at", "qtype"),
    "queues_by_completed": ("ReplacingMergeTree", "updated_at", "completed"),
    "queues_by_started": ("ReplacingMergeTree", "", "started"),
    "affiliates_by_time": ("ReplacingMergeTree", "", "created_at"),
    "affiliates_by_aff": ("ReplacingMergeTree", "", "aff"),
    "redirect_history_by_hostto": ("ReplacingMergeTree", "", "hostto"),
    "msec_by_pending": ("ReplacingMergeTree", "", "pending"),
    "mthreads_by_website_page": ("ReplacingMergeTree", "", "provider, medium, alias"),
    "mthreads_by_chat": ("ReplacingMergeTree", "", "provider, medium, alias"),
    "mstore_by_scheduled": ("ReplacingMergeTree", "", "scheduled"),
    "payments_by_user": ("ReplacingMergeTree", "", "uid, created_at"),
    "payments_by_campaign": ("ReplacingMergeTree", "", "campaign_id, created_at"),
    "payments_by_org": ("ReplacingMergeTree", "", "oid, org, created_at"),
    "ltv_by_uid": ("SummingMergeTree", "paid", "hhash, id"),
    "ltv_by_vid": ("SummingMergeTree", "paid", "hhash, id"),
    "ltv_by_orid": ("SummingMergeTree", "paid", "hhash, id"),
    "orgs_conglomerate": ("ReplacingMergeTree", "", "root, oid"),
    "user_by_cohorts": ("ReplacingMergeTree", "", "cohorts"),
    "pprovider_by_owner": ("ReplacingMergeTree", "", "owner"),
    "pauth_by_owner": ("ReplacingMergeTree", "", "owner"),
    "user_by_username": ("ReplacingMergeTree", "", "username"),
    "user_by_all_emails": ("ReplacingMergeTree", "", "email_address"),
    "user_by_all_cells": ("ReplacingMergeTree", "", "cell_number"),
    "permissions_by_id": ("ReplacingMergeTree", "", "id"),
    "permissions_by_org": ("ReplacingMergeTree", "", "oid"),
    "permissions_by_rpath": ("ReplacingMergeTree", "", "rpath"),
    "permissions_by_ref": ("ReplacingMergeTree", "", "ref"),
    "permissions_by_action": ("ReplacingMergeTree", "", "action"),
}

GO_TO_VIEWS = {
    "hits_mv": "hits",
    "ips_mv": "ips",
    "reqs_mv": "reqs",
    "browsers_mv": "browsers",
    "referrers_mv": "referrers",
}

# Per file: local tables, Distributed tables, views, MVs with storage, TO MVs, system.tables rows.
GO_FILE_COUNTS = {
    "core": (8, 8, 0, 0, 0, 16),
    "analytics": (9, 9, 15, 5, 5, 48),
    "compliance": (14, 14, 0, 4, 0, 36),
    "messaging": (13, 13, 0, 7, 0, 40),
    "users": (11, 11, 2, 13, 0, 50),
    "auth": (12, 12, 2, 5, 0, 36),
}
GO_SYSTEM_TABLES_ROWS = 226

ALL_GO_TABLES = {name: spec for tables in GO_TABLES.values() for name, spec in tables.items()}
ALL_GO_VIEWS = [name for views in GO_VIEWS.values() for name in views]

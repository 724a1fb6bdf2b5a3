"""Reference tables of the Go tracker's users schema file that the tracker never touches: users,
addresses, verifications, files and the payment-provider tables. (Payments, LTV, user hosts and
organisations, which it uses, are in ``tables_accounts.py`` and ``tables_analytics.py``.)
Column order, types and defaults are the Go schema's.
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
    I64,
    LC,
    NEW_UUID,
    NOW,
    U16,
    B,
    D,
    J,
    S,
    U,
)
from tracker.schema.model import Column, Table


def replacing(name: str, columns: tuple[Column, ...], order_by: str, **extra: str) -> Table:
    """A ReplacingMergeTree(updated_at) table, as most of this file's."""
    return Table(
        name=name,
        columns=columns,
        engine="ReplacingMergeTree",
        engine_args=("updated_at",),
        order_by=order_by,
        partition_by=extra.get("partition_by"),
    )


_CREATED_OWNED = (DT("created_at", NOW), U("owner"), DT("updated_at", NOW), U("updater"))

ADDRESSES = replacing(
    "addresses",
    (
        U("id", NEW_UUID),
        *(S(name) for name in ("fullname", "st1", "st2", "city", "province", "country", "zip")),
        B("active"),
        S("type"),
        S("phone"),
        DT("updated_at", NOW),
    ),
    "id",
)

USERS = replacing(
    "users",
    (
        U("uid"),
        *(S(name) for name in ("username", "pwd", "uhash", "email", "ehash")),
        AU("vids"),
        AS("roles"),
        AS("rights"),
        U("ref"),
        *(S(name) for name in ("aff", "promo", "origin_url", "ip")),
        AS("ips"),
        J("params"),
        AS("cohorts"),
        J("splits"),
        S("lang"),
        DT("created_at", NOW),
        U("oid"),
        LC("org"),
        U("owner"),
        DT("updated_at", NOW),
        U("updater"),
        J("mdevices"),
        AS("mtypes"),
        I64("mlast"),
        S("cell"),
        J("additional_emails"),
        J("additional_cells"),
        S("chash"),
        J("mcerts"),
        F64("lat"),
        F64("lon"),
        S("caption"),
        B("gender"),
        D("dob"),
        S("image_url"),
        S("image_url_original"),
        Column("v_score", "Decimal(18, 4)"),
        S("fn"),
        S("ln"),
        DT("locked", EPOCH),
        DT("last_active", EPOCH),
        S("magic"),
        DT("magic_exp", EPOCH),
        I32("magic_attempts"),
        DT("magic_attempted", EPOCH),
        DT("terms_accepted", EPOCH),
        J("perms"),
        AS("use_cases"),
        AF32("use_case_gtesmall"),
        J("user_attribs"),
        AF32("user_attribs_gtesmall"),
        S("embedding_model", "'gte-small'"),
        U16("embedding_dimensions", "384"),
        DT("embedding_generated_at", EPOCH),
    ),
    "uid",
    partition_by="toYYYYMM(created_at)",
)

USER_VERIFICATIONS = replacing(
    "user_verifications",
    (
        U("uid"),
        S("vmethod"),
        U("verifier"),
        DT("created_at", NOW),
        U("oid"),
        LC("org"),
        U("owner"),
        DT("updated_at", NOW),
        U("updater"),
    ),
    "(uid, vmethod)",
)

FILES = replacing(
    "files",
    (
        S("slug"),
        U("oid"),
        LC("org"),
        *(S(name) for name in ("fprint", "ftype", "suffix", "name", "mime", "description")),
        F64("lat"),
        F64("lon"),
        S("oname"),
        DT("ocreated", EPOCH),
        S("omime"),
        S("alt"),
        J("meta"),
        I32("x"),
        I32("y"),
        I32("size"),
        B("private"),
        *(S(name) for name in ("bucket", "url_prefix", "ourl", "hqurl", "mqurl", "lqurl", "thumb")),
        AS("used_in"),
        U("owner"),
        B("o_r"),
        B("o_w"),
        AU("orgs"),
        B("g_r"),
        B("g_w"),
        AS("roles"),
        B("r_r"),
        B("r_w"),
        DT("created_at", NOW),
        DT("updated_at", NOW),
        DT("expires", EPOCH),
        U("updater"),
    ),
    "slug",
)

PPROVIDER = replacing("pprovider", (S("name"), U("oid"), LC("org"), *_CREATED_OWNED), "name")

PAUTH = replacing(
    "pauth",
    (
        U("id"),
        U("oid"),
        LC("org"),
        S("pprovider"),
        S("pcustomer"),
        S("psource"),
        S("meta"),
        I32("priority"),
        DT("active_since", EPOCH),
        *_CREATED_OWNED,
    ),
    "id",
)

PCONFIRMATION = replacing(
    "pconfirmation",
    (
        S("id"),
        U("oid"),
        LC("org"),
        S("ctype"),
        S("external_ref"),
        S("rtype"),
        S("meta"),
        *_CREATED_OWNED,
    ),
    "id",
)

USERS_REFERENCE_TABLES = (
    ADDRESSES,
    USERS,
    USER_VERIFICATIONS,
    FILES,
    PPROVIDER,
    PAUTH,
    PCONFIRMATION,
)

__all__ = ["USERS_REFERENCE_TABLES"]

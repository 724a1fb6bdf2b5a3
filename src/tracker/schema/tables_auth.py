"""Reference tables of the Go tracker's auth schema file that the tracker never touches: services,
actions, permissions, and the advertising platforms' OAuth credentials. (Accounts, the NATS-fed
logs and updates, dailies and counters, which it uses, are elsewhere in the catalogue.)
Column order, types and defaults are the Go schema's.

The Go schema pins its own Keeper path for ``platform_credentials`` and ``oauth_states``; a
cluster render keeps those paths, so an adopted cluster's replicas still find their metadata.
"""

from __future__ import annotations

from tracker.schema.columns import AS, DT, EPOCH, LC, NOW, B, D, J, S, U
from tracker.schema.model import Column, Table

SERVICES = Table(
    name="services",
    columns=(
        S("name"),
        S("secret"),
        AS("roles"),
        D("expiry"),
        DT("created_at", NOW),
        U("oid"),
        LC("org"),
        U("owner"),
        DT("updated_at", NOW),
        U("updater"),
    ),
    engine="ReplacingMergeTree",
    engine_args=("updated_at",),
    partition_by="toYYYYMM(created_at)",
    order_by="name",
)

ACTION_NAMES = Table(
    name="action_names",
    columns=(S("name"), DT("created_at", NOW)),
    engine="ReplacingMergeTree",
    engine_args=("created_at",),
    order_by="name",
)

ACTIONS = Table(
    name="actions",
    columns=(
        U("oid"),
        LC("org"),
        U("sid"),
        S("src"),
        U("did"),
        S("dsrc"),
        J("meta"),
        U("exqid"),
        DT("created_at", NOW),
        DT("started", EPOCH),
        DT("completed", EPOCH),
        DT("updated_at", NOW),
    ),
    engine="ReplacingMergeTree",
    engine_args=("updated_at",),
    partition_by="toYYYYMM(created_at)",
    order_by="(sid, did, created_at)",
)

ACTIONS_EXT = Table(
    name="actions_ext",
    columns=(
        S("sid"),
        S("svc"),
        U("iid"),
        U("uid"),
        U("oid"),
        LC("org"),
        DT("created_at", NOW),
        DT("updated_at", NOW),
        J("meta"),
    ),
    engine="ReplacingMergeTree",
    engine_args=("updated_at",),
    partition_by="toYYYYMM(created_at)",
    order_by="(sid, svc)",
    ttl="toDateTime(created_at) + INTERVAL 14 DAY",
)

PERMISSIONS = Table(
    name="permissions",
    columns=(
        U("id"),
        U("oid"),
        LC("org"),
        S("rtype"),
        S("rpath"),
        S("obj"),
        U("ref"),
        S("action"),
        B("effect"),
        DT("updated_at", NOW),
    ),
    engine="ReplacingMergeTree",
    engine_args=("updated_at",),
    order_by="(oid, org, rtype, rpath, ref, action)",
)

PLATFORM_CREDENTIALS = Table(
    name="platform_credentials",
    columns=(
        U("oid"),
        LC("org"),
        S("platform"),
        S("account_id"),
        S("account_email"),
        S("encrypted_access_token"),
        S("encrypted_refresh_token"),
        DT("token_expires_at", EPOCH),
        S("scopes"),
        DT("connected_at", NOW),
        DT("updated_at", NOW),
        Column("is_valid", "Bool", "true"),
        J("metadata"),
    ),
    engine="ReplacingMergeTree",
    engine_args=("updated_at",),
    partition_by="(oid, platform)",
    order_by="(oid, org, platform, account_id)",
    indexes=("INDEX idx_expiry token_expires_at TYPE minmax GRANULARITY 1",),
    settings=(("index_granularity", "8192"),),
    keeper_path="/clickhouse/tables/{shard}/platform_credentials",
)

# The OAuth "state" values of a pending authorisation, dropped an hour after they expire. The Go
# repository published no column list for this table; these are the columns its name, key and
# TTL need (docs/differences.md).
OAUTH_STATES = Table(
    name="oauth_states",
    columns=(
        S("state"),
        U("oid"),
        LC("org"),
        S("platform"),
        S("redirect_uri"),
        S("code_verifier"),
        J("metadata"),
        DT("created_at", NOW),
        DT("expires_at", EPOCH),
    ),
    engine="ReplacingMergeTree",
    engine_args=("created_at",),
    order_by="state",
    ttl="toDateTime(expires_at) + INTERVAL 1 HOUR",
    keeper_path="/clickhouse/tables/{shard}/oauth_states",
)

AUTH_REFERENCE_TABLES = (
    SERVICES,
    ACTION_NAMES,
    ACTIONS,
    ACTIONS_EXT,
    PERMISSIONS,
    PLATFORM_CREDENTIALS,
    OAUTH_STATES,
)

__all__ = ["AUTH_REFERENCE_TABLES"]

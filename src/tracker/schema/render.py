"""Render the catalogue as DDL for a topology. Every statement is idempotent (IF NOT EXISTS).

EMBEDDED (chDB, or one ClickHouse server without Keeper)::

    CREATE DATABASE IF NOT EXISTS sfpla
    CREATE TABLE IF NOT EXISTS sfpla.events (...) ENGINE = MergeTree ... SETTINGS ...,
        non_replicated_deduplication_window = 1000
    CREATE VIEW IF NOT EXISTS sfpla.visitors AS SELECT ...
    CREATE MATERIALIZED VIEW IF NOT EXISTS sfpla.hits_mv TO sfpla.hits AS SELECT ...

Every table keeps a deduplication window, MV targets included: the spool replays a batch with the
same ``insert_deduplication_token``, and only tables with a window ignore the repeat (the insert
must also set ``deduplicate_blocks_in_dependent_materialized_views = 1``).

CLUSTER (single node with Keeper, 1 shard x N replicas, N shards x 1, N x M: one text for all,
the layout lives in each server's config, which ``schema.cluster`` renders)::

    CREATE DATABASE IF NOT EXISTS sfpla ON CLUSTER tracker_cluster
    CREATE TABLE IF NOT EXISTS sfpla.events_local ON CLUSTER tracker_cluster (...)
        ENGINE = ReplicatedMergeTree('/clickhouse/tables/{layer}-{shard}/{database}/{table}',
                                     '{replica}') ... SETTINGS ..., replicated_deduplication_window = 1000
    CREATE TABLE IF NOT EXISTS sfpla.events ON CLUSTER tracker_cluster AS sfpla.events_local
        ENGINE = Distributed(tracker_cluster, sfpla, events_local, cityHash64(vid))

The Keeper path and replica name come from each server's macros, spelled out in the engine (the
same path as the Go deployment's ``default_replica_path``, so our tables and Go's share Keeper
metadata, and a server without that default still works). The cluster's name is the tracker's
``ClickHouseCluster`` everywhere (Go wrote ``tracker_cluster`` into the DDL whatever the servers
were told). Views and materialized views read from and write to the Distributed names, so the
views fire on the node that receives an insert into ``events``, as in the Go deployment.

The sharding key is deterministic, never ``rand()`` (Go's): a batch replayed after a partial
failure must send each row to the shard that stored it the first time, where the batch's
deduplication token drops it. `sharding_key` says which columns are hashed.

Materialized views with their own storage (``payments_by_user`` …) get the table engines' rules:
a Replicated engine in a cluster (argument-less, so the path comes from the server's
``default_replica_path``, as in Go: ``{table}`` is then the inner table's name), the deduplication
window on one node. The two tables for which the Go schema pins a Keeper path keep it in a cluster
(``Table.keeper_path``).
"""

from __future__ import annotations

import re
from enum import StrEnum

from tracker.schema.model import Column, InnerMaterializedView, MaterializedView, Table, View
from tracker.schema.tables import (
    ALL_TABLES,
    INNER_VIEWS,
    MATERIALIZED_VIEWS,
    OWN_VIEWS,
    TABLES,
    VIEWS,
)

DEDUP_WINDOW = ("non_replicated_deduplication_window", "1000")
REPLICATED_DEDUP_WINDOW = ("replicated_deduplication_window", "1000")
KEEPER_PATH = "/clickhouse/tables/{layer}-{shard}/{database}/{table}"
REPLICA_NAME = "{replica}"
# Defaults a replay cannot reproduce: a column the row leaves out gets a new value each time.
_VOLATILE = re.compile(
    r"\b(now|now64|today|yesterday|rand\w*|generateUUID\w*|generateULID|randomString)\s*\(", re.I
)
DEFAULT_DATABASE = "sfpla"
DEFAULT_CLUSTER = "tracker_cluster"
LOCAL_SUFFIX = "_local"

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class Topology(StrEnum):
    EMBEDDED = "embedded"
    CLUSTER = "cluster"


def _check_identifier(kind: str, value: str) -> str:
    if not _IDENTIFIER.fullmatch(value):
        raise ValueError(
            f"{kind} name {value!r} is not a plain identifier: "
            "expected letters, digits and underscores, not starting with a digit."
        )
    return value


def _on_cluster(topology: Topology, cluster: str) -> str:
    return f" ON CLUSTER {cluster}" if topology is Topology.CLUSTER else ""


def column_sql(column: Column) -> str:
    parts = [column.name, column.type]
    if column.default is not None:
        parts.append(f"DEFAULT {column.default}")
    if column.materialized is not None:
        parts.append(f"MATERIALIZED {column.materialized}")
    if column.codec is not None:
        parts.append(f"CODEC({column.codec})")
    return " ".join(parts)


def _engine(engine: str, args: tuple[str, ...], topology: Topology) -> str:
    name = f"Replicated{engine}" if topology is Topology.CLUSTER else engine
    return f"{name}({', '.join(args)})" if args else name


def engine_sql(table: Table, topology: Topology) -> str:
    if topology is Topology.CLUSTER:
        path = table.keeper_path or KEEPER_PATH
        return _engine(
            table.engine, (f"'{path}'", f"'{REPLICA_NAME}'", *table.engine_args), topology
        )
    return _engine(table.engine, table.engine_args, topology)


def _stable(table: Table, name: str) -> bool:
    """A column whose value a replayed row reproduces: no default, or one without now()/rand()."""
    default = table.column(name).default
    return default is None or not _VOLATILE.search(default)


def sharding_key(table: Table) -> str:
    """The Distributed sharding expression of ``table``: deterministic, so a replayed batch
    sends every row to the shard that took it the first time.

    * ``table.shard_key`` when the catalogue sets one;
    * Replacing and Summing tables: a hash of their sorting-key columns (the stable ones), so
      rows that merge into one always share a shard and ``FINAL`` is exact across the cluster;
    * other tables: a hash of ``vid`` when they have one (a visitor's rows on one shard), else
      of their stable sorting-key columns, else of the whole sorting key.
    """
    if table.shard_key is not None:
        return table.shard_key
    names = table.column_names()
    key = [n for n in _IDENTIFIER.findall(table.order_by) if n in names]
    stable = [n for n in key if _stable(table, n)]
    if table.engine == "MergeTree" and "vid" in names and _stable(table, "vid"):
        stable = ["vid"]
    columns = stable or key
    if not columns:
        raise ValueError(f"Table {table.name!r} has no column to shard by: set its shard_key.")
    return f"cityHash64({', '.join(columns)})"


def storage_name(table: str, topology: Topology) -> str:
    """The name of the table that holds the rows: ``events`` or, in a cluster, ``events_local``."""
    return f"{table}{LOCAL_SUFFIX}" if topology is Topology.CLUSTER else table


def insert_target(table: str, topology: Topology) -> str:
    """The name to insert into: always the plain name (in a cluster, the Distributed table), so
    the materialized views attached to it fire exactly as in the Go tracker."""
    if table not in TABLES:
        raise KeyError(f"No table {table!r} in the schema catalogue.")
    return table


def create_table_sql(
    table: Table,
    topology: Topology = Topology.EMBEDDED,
    database: str = DEFAULT_DATABASE,
    cluster: str = DEFAULT_CLUSTER,
) -> list[str]:
    """The statements that create ``table``: one, or in a cluster the storage table and its
    Distributed twin."""
    _check_identifier("Database", database)
    _check_identifier("Cluster", cluster)
    local = storage_name(table.name, topology)
    on_cluster = _on_cluster(topology, cluster)
    body = ",\n".join(
        f"    {item}"
        for item in (*map(column_sql, table.columns), *table.indexes, *table.projections)
    )
    clauses = [f"ENGINE = {engine_sql(table, topology)}"]
    if table.partition_by is not None:
        clauses.append(f"PARTITION BY {table.partition_by}")
    clauses.append(f"ORDER BY {table.order_by}")
    if table.ttl is not None:
        clauses.append(f"TTL {table.ttl}")
    settings = list(table.settings)
    window = REPLICATED_DEDUP_WINDOW if topology is Topology.CLUSTER else DEDUP_WINDOW
    if all(name != window[0] for name, _ in settings):
        settings.append(window)
    if settings:
        clauses.append("SETTINGS " + ", ".join(f"{name} = {value}" for name, value in settings))
    statements = [
        f"CREATE TABLE IF NOT EXISTS {database}.{local}{on_cluster}\n(\n{body}\n)\n"
        + "\n".join(clauses)
    ]
    if topology is Topology.CLUSTER:
        statements.append(
            f"CREATE TABLE IF NOT EXISTS {database}.{table.name}{on_cluster}"
            f" AS {database}.{local}\n"
            f"ENGINE = Distributed({cluster}, {database}, {local}, {sharding_key(table)})"
        )
    return statements


def create_view_sql(view: View, topology: Topology, database: str, cluster: str) -> str:
    select = view.select.replace("{db}", database)
    return (
        f"CREATE VIEW IF NOT EXISTS {database}.{view.name}{_on_cluster(topology, cluster)}"
        f" AS\n{select}"
    )


def create_materialized_view_sql(
    view: MaterializedView, topology: Topology, database: str, cluster: str
) -> str:
    select = view.select.replace("{db}", database)
    return (
        f"CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.{view.name}"
        f"{_on_cluster(topology, cluster)} TO {database}.{view.to_table} AS\n{select}"
    )


def create_inner_view_sql(
    view: InnerMaterializedView, topology: Topology, database: str, cluster: str
) -> str:
    """A materialized view with its own storage table, filled from its source when created."""
    clauses = [f"ENGINE = {_engine(view.engine, view.engine_args, topology)}"]
    if view.partition_by is not None:
        clauses.append(f"PARTITION BY {view.partition_by}")
    clauses.append(f"ORDER BY {view.order_by}")
    if topology is Topology.EMBEDDED:
        clauses.append(f"SETTINGS {DEDUP_WINDOW[0]} = {DEDUP_WINDOW[1]}")
    if view.populate:
        clauses.append("POPULATE")
    select = view.select.replace("{db}", database)
    return (
        f"CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.{view.name}"
        f"{_on_cluster(topology, cluster)}\n" + "\n".join(clauses) + f" AS\n{select}"
    )


def render(
    topology: Topology = Topology.EMBEDDED,
    database: str = DEFAULT_DATABASE,
    cluster: str = DEFAULT_CLUSTER,
    full: bool = True,
) -> list[str]:
    """Every statement of the schema, in an order that can be executed one by one.

    ``full`` is the Go tracker's whole schema (``schema load``); without it, only the tables the
    tracker writes and reads with their views (what ``serve`` needs to start).
    """
    _check_identifier("Database", database)
    _check_identifier("Cluster", cluster)
    statements = [f"CREATE DATABASE IF NOT EXISTS {database}{_on_cluster(topology, cluster)}"]
    for table in (ALL_TABLES if full else TABLES).values():
        statements.extend(create_table_sql(table, topology, database, cluster))
    statements.extend(
        create_view_sql(view, topology, database, cluster)
        for view in (VIEWS if full else OWN_VIEWS)
    )
    statements.extend(
        create_materialized_view_sql(view, topology, database, cluster)
        for view in MATERIALIZED_VIEWS
    )
    if full:
        statements.extend(
            create_inner_view_sql(view, topology, database, cluster) for view in INNER_VIEWS
        )
    return statements


__all__ = [
    "DEFAULT_CLUSTER",
    "DEFAULT_DATABASE",
    "Topology",
    "create_inner_view_sql",
    "create_table_sql",
    "insert_target",
    "render",
    "sharding_key",
    "storage_name",
]

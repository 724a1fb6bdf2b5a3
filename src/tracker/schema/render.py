"""Render the catalogue as DDL for a topology. Every statement is idempotent (IF NOT EXISTS).

EMBEDDED (chDB, one node, no Keeper)::

    CREATE DATABASE IF NOT EXISTS sfpla
    CREATE TABLE IF NOT EXISTS sfpla.events (...) ENGINE = MergeTree ... SETTINGS ...,
        non_replicated_deduplication_window = 1000
    CREATE VIEW IF NOT EXISTS sfpla.visitors AS SELECT ...
    CREATE MATERIALIZED VIEW IF NOT EXISTS sfpla.hits_mv TO sfpla.hits AS SELECT ...

Every table keeps a deduplication window, MV targets included: the spool replays a batch with the
same ``insert_deduplication_token``, and only tables with a window ignore the repeat (the insert
must also set ``deduplicate_blocks_in_dependent_materialized_views = 1``).

CLUSTER (the Go tracker's form: ``ON CLUSTER``, argument-less Replicated engines, ``Distributed``
with ``rand()``), one text for single node, replicas and shards — the topology lives in the server
config (macros, ``default_replica_path``)::

    CREATE DATABASE IF NOT EXISTS sfpla ON CLUSTER tracker_cluster
    CREATE TABLE IF NOT EXISTS sfpla.events_local ON CLUSTER tracker_cluster (...)
        ENGINE = ReplicatedMergeTree ...
    CREATE TABLE IF NOT EXISTS sfpla.events ON CLUSTER tracker_cluster AS sfpla.events_local
        ENGINE = Distributed(tracker_cluster, sfpla, events_local, rand())

Replicated engines get no Keeper arguments (version and sum columns are kept), and deduplicate
through ``replicated_deduplication_window`` (on by default), so no window setting is added.
Views and materialized views read from and write to the Distributed names, so the views fire on
the node that receives an insert into ``events``, as in the Go deployment.

Materialized views with their own storage (``payments_by_user`` …) get the table engines' rules:
a Replicated engine in a cluster, the deduplication window on one node. The two tables for which
the Go schema pins a Keeper path keep it in a cluster (``Table.keeper_path``).
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
    args = table.engine_args
    if table.keeper_path is not None and topology is Topology.CLUSTER:
        args = (f"'{table.keeper_path}'", "'{replica}'", *args)
    return _engine(table.engine, args, topology)


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
    if topology is Topology.EMBEDDED and all(name != DEDUP_WINDOW[0] for name, _ in settings):
        settings.append(DEDUP_WINDOW)
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
            f"ENGINE = Distributed({cluster}, {database}, {local}, rand())"
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
    "storage_name",
]

"""Schema versions and upgrades: bring any database to the catalogue without losing a row.

``migrate`` reads what the database holds (``live.introspect``), then plans, in this order:

1. the pending versioned migrations of ``MIGRATIONS`` (a migration is code: renames and type
   changes the catalogue alone cannot tell from a new column);
2. everything the catalogue has and the database lacks: the database, tables, columns (added
   where the catalogue puts them), views, materialized views;
3. views and ``TO`` materialized views whose query differs from the catalogue's are redefined
   (they hold no rows);
4. the new version, recorded as a row ``TRACKER_SCHEMA_VER`` in the Go schema's ``sequences``.

Nothing is ever dropped. What differs and cannot be changed in place (an engine, a partition or
sorting key, a column type no migration changes, a column the catalogue does not know) is kept
and reported. A database made by the Go tracker's DDL is adopted the same way.

A change of a column's type in the catalogue (say ``params JSON`` to
``JSON(max_dynamic_paths=N)``) needs a migration with a ``ModifyColumn``: ClickHouse converts the
stored rows in place. ``migrate`` is idempotent: a second run plans nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from tracker.errors import SinkUnreachable, TrackerError
from tracker.schema.columns import JB
from tracker.schema.live import (
    VERSION_KEY,
    Form,
    Live,
    Origin,
    QueryFn,
    formatted,
    introspect,
    quote,
)
from tracker.schema.model import Column, MaterializedView, Table, View
from tracker.schema.render import (
    DEFAULT_CLUSTER,
    DEFAULT_DATABASE,
    Topology,
    column_sql,
    create_inner_view_sql,
    create_materialized_view_sql,
    create_table_sql,
    create_view_sql,
    storage_name,
)
from tracker.schema.tables import (
    ALL_TABLES,
    INNER_VIEWS,
    MATERIALIZED_VIEWS,
    OWN_VIEWS,
    TABLES,
    VIEWS,
)


class MigrationError(TrackerError):
    """The database cannot be brought to the catalogue as it is; the message says what to do."""


@dataclass(frozen=True)
class RenameColumn:
    """``old`` becomes ``new`` where the table has ``old`` and not ``new`` (rows kept)."""

    table: str
    old: str
    new: str


@dataclass(frozen=True)
class ModifyColumn:
    """The column takes ``column``'s type and default where its type differs (rows converted)."""

    table: str
    column: Column


Operation = RenameColumn | ModifyColumn


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    operations: tuple[Operation, ...] = ()


_CONFIDENCE = ("audience_confidence", "content_confidence", "confidence_score")

# Version N: every migration up to N has run. Version 1 is the catalogue as the first release
# of this tracker created it; a database without a recorded version is brought up from there.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "the first recorded schema version"),
    Migration(
        2,
        "the Go tracker's later column names and types",
        (
            RenameColumn("events", "did", "device_id"),
            RenameColumn("events", "auth", "auth_id"),
            *(ModifyColumn("visitor_interests", Column(name, "Float64")) for name in _CONFIDENCE),
        ),
    ),
    Migration(
        3,
        "bounded dynamic paths in events.params and events.targets (keys chosen by clients)",
        (ModifyColumn("events", JB("params")), ModifyColumn("events", JB("targets"))),
    ),
)

CURRENT_VERSION = MIGRATIONS[-1].version


class Scope(StrEnum):
    TRACKER = "tracker"  # what `serve` needs: the tables it writes and reads, with their views
    ALL = "all"  # the Go tracker's whole schema (`schema load`, `schema migrate`)


@dataclass(frozen=True)
class Step:
    sql: str
    why: str


@dataclass
class Plan:
    origin: Origin
    from_version: int | None
    to_version: int
    steps: list[Step] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # differences left as they are

    def lines(self) -> list[str]:
        return [step.why for step in self.steps] + [f"kept: {note}" for note in self.kept]


@dataclass(frozen=True)
class _Target:
    topology: Topology
    database: str
    cluster: str

    def on(self) -> str:
        return f" ON CLUSTER {self.cluster}" if self.topology is Topology.CLUSTER else ""

    def names(self, table: str) -> list[str]:
        """The objects that carry ``table``'s columns: its storage table and, in a cluster, the
        Distributed table in front of it."""
        local = storage_name(table, self.topology)
        return [local] if local == table else [local, table]


def _check_form(live: Live, target: _Target) -> None:
    wanted = Form.CLUSTER if target.topology is Topology.CLUSTER else Form.SINGLE
    if live.form in (Form.NONE, wanted):
        return
    if live.form is Form.CLUSTER:
        raise MigrationError(
            f"The database {live.database} has the cluster form the Go tracker creates"
            " (events_local behind a Distributed events), but the tracker is set up for a single"
            " store: set ClickHouseCluster to the cluster's name (the Go tracker's is"
            " tracker_cluster) and run `tracker schema migrate` again."
        )
    raise MigrationError(
        f"The database {live.database} has plain tables (events is {live.tables['events'].engine}),"
        " but the tracker is set up for a cluster (ClickHouseCluster is set): unset"
        " ClickHouseCluster, or load the cluster schema into a new database."
    )


def _operation_steps(op: Operation, live: Live, target: _Target) -> list[Step]:
    steps = []
    for name in target.names(op.table):
        table = live.get(name)
        if table is None:
            continue
        if isinstance(op, RenameColumn) and op.old in table.columns and op.new not in table.columns:
            steps.append(
                Step(
                    f"ALTER TABLE {target.database}.{name}{target.on()}"
                    f" RENAME COLUMN {op.old} TO {op.new}",
                    f"rename {name}.{op.old} to {op.new}",
                )
            )
        if isinstance(op, ModifyColumn) and table.columns.get(op.column.name) not in (
            None,
            op.column.type,
        ):
            steps.append(
                Step(
                    f"ALTER TABLE {target.database}.{name}{target.on()}"
                    f" MODIFY COLUMN {column_sql(op.column)}",
                    f"change {name}.{op.column.name} from"
                    f" {table.columns[op.column.name]} to {op.column.type}",
                )
            )
    return steps


def _after_operations(live: Live, operations: Iterable[Operation], target: _Target) -> Live:
    """``live`` as it will be once the operations ran, so that the next phase plans on it."""
    tables = dict(live.tables)
    for op in operations:
        for name in target.names(op.table):
            table = tables.get(name)
            if table is None:
                continue
            columns = dict(table.columns)
            if isinstance(op, RenameColumn) and op.old in columns and op.new not in columns:
                columns = {(op.new if k == op.old else k): v for k, v in columns.items()}
            elif isinstance(op, ModifyColumn) and op.column.name in columns:
                columns[op.column.name] = op.column.type
            tables[name] = replace(table, columns=columns)
    return Live(live.database, tables, live.version, live.go_marker)


def _key(expression: str) -> str:
    """A key as ``system.tables`` prints it, for comparing: no spaces, no outer parentheses."""
    text = expression.replace(" ", "")
    inner = text[1:-1]
    if text.startswith("(") and text.endswith(")") and inner.count("(") == inner.count(")"):
        return inner
    return text


def _table_steps(table: Table, live: Live, target: _Target, plan: Plan) -> None:
    names = target.names(table.name)
    missing = [name for name in names if live.get(name) is None]
    if missing:
        statements = create_table_sql(table, target.topology, target.database, target.cluster)
        for name, statement in zip(names, statements, strict=True):
            if name in missing:
                plan.steps.append(Step(statement, f"create table {name}"))
    for name in names:
        existing = live.get(name)
        if existing is None:
            continue
        previous: str | None = None
        for column in table.columns:
            if column.name not in existing.columns:
                where = f" AFTER {previous}" if previous else " FIRST"
                plan.steps.append(
                    Step(
                        f"ALTER TABLE {target.database}.{name}{target.on()}"
                        f" ADD COLUMN IF NOT EXISTS {column_sql(column)}{where}",
                        f"add column {name}.{column.name} {column.type}",
                    )
                )
            elif existing.columns[column.name] != column.type:
                plan.kept.append(
                    f"{name}.{column.name} is {existing.columns[column.name]}"
                    f" (the catalogue says {column.type})"
                )
            previous = column.name
        extra = [column for column in existing.columns if column not in table.column_names()]
        if extra:
            plan.kept.append(f"{name} has columns the catalogue does not know: {', '.join(extra)}")
        if name != table.name or target.topology is not Topology.CLUSTER:
            if existing.family != table.engine and existing.engine != "Distributed":
                plan.kept.append(
                    f"{name} is a {existing.engine} (the catalogue says {table.engine})"
                )
            if _key(existing.partition_key) != _key(table.partition_by or ""):
                plan.kept.append(
                    f"{name} is partitioned by {existing.partition_key or 'nothing'}"
                    f" (the catalogue says {table.partition_by})"
                )


def plan_migration(
    query: QueryFn,
    topology: Topology = Topology.EMBEDDED,
    database: str = DEFAULT_DATABASE,
    cluster: str = DEFAULT_CLUSTER,
    scope: Scope = Scope.ALL,
    migrations: Sequence[Migration] = MIGRATIONS,
) -> Plan:
    """What ``migrate`` would run, without running it."""
    target = _Target(topology, database, cluster)
    live = introspect(query, database)
    _check_form(live, target)
    to_version = migrations[-1].version
    plan = Plan(live.origin, live.version, to_version)
    if live.origin is Origin.EMPTY:
        plan.steps.append(
            Step(f"CREATE DATABASE IF NOT EXISTS {database}{target.on()}", f"create {database}")
        )
    pending = [m for m in migrations if live.version is None or m.version > live.version]
    operations = [op for migration in pending for op in migration.operations]
    for op in operations:
        plan.steps.extend(_operation_steps(op, live, target))
    live = _after_operations(live, operations, target)

    tables = ALL_TABLES if scope is Scope.ALL else TABLES
    for table in tables.values():
        _table_steps(table, live, target, plan)
    views = VIEWS if scope is Scope.ALL else OWN_VIEWS
    candidates: list[View | MaterializedView] = [*views, *MATERIALIZED_VIEWS]
    defined = [view for view in candidates if live.get(view.name)]
    ours = formatted(query, [view.select.replace("{db}", database) for view in defined])
    changed = {
        view.name
        for view, text in zip(defined, ours, strict=True)
        if live.tables[view.name].as_select != text
    }
    for view in views:
        if live.get(view.name) is None or view.name in changed:
            create = create_view_sql(view, topology, database, cluster)
            verb = "create" if live.get(view.name) is None else "redefine"
            if verb == "redefine":
                create = create.replace("CREATE VIEW IF NOT EXISTS", "CREATE OR REPLACE VIEW", 1)
            plan.steps.append(Step(create, f"{verb} view {view.name}"))
    for mv in MATERIALIZED_VIEWS:
        if live.get(mv.name) is None:
            sql = create_materialized_view_sql(mv, topology, database, cluster)
            plan.steps.append(Step(sql, f"create materialized view {mv.name}"))
            if mv.backfill is not None and live.get("events") is not None:
                fill = mv.backfill.replace("{db}", database)
                plan.steps.append(Step(fill, f"fill {mv.to_table} from the stored rows"))
        elif mv.name in changed:
            plan.steps.append(
                Step(
                    f"ALTER TABLE {database}.{mv.name}{target.on()} MODIFY QUERY\n"
                    + mv.select.replace("{db}", database),
                    f"redefine materialized view {mv.name}",
                )
            )
    if scope is Scope.ALL:
        for inner in INNER_VIEWS:
            if live.get(inner.name) is None:
                sql = create_inner_view_sql(inner, topology, database, cluster)
                plan.steps.append(Step(sql, f"create materialized view {inner.name}"))
    if live.version != to_version:
        plan.steps.append(
            Step(
                f"INSERT INTO {database}.sequences (name, seq)"
                f" VALUES ({quote(VERSION_KEY)}, {to_version})",
                f"record schema version {to_version}",
            )
        )
    return plan


def migrate(
    query: QueryFn,
    topology: Topology = Topology.EMBEDDED,
    database: str = DEFAULT_DATABASE,
    cluster: str = DEFAULT_CLUSTER,
    scope: Scope = Scope.ALL,
    migrations: Sequence[Migration] = MIGRATIONS,
) -> Plan:
    """Plan, then run each step in order; a failing step stops the run (a rerun goes on from
    where it stopped, since every step checks what is there)."""
    plan = plan_migration(query, topology, database, cluster, scope, migrations)
    for step in plan.steps:
        try:
            query(step.sql, "TSV")
        except SinkUnreachable:
            raise  # the store is down, not the schema wrong: the caller retries
        except TrackerError as exc:
            raise MigrationError(f"Schema migration step '{step.why}' failed: {exc}") from exc
    return plan


def pending_version(query: QueryFn, database: str = DEFAULT_DATABASE) -> int | None:
    """The recorded schema version when it is older than this tracker's, else None."""
    live = introspect(query, database)
    if live.version is not None and live.version >= CURRENT_VERSION:
        return None
    return live.version or 0


__all__ = [
    "CURRENT_VERSION",
    "MIGRATIONS",
    "Migration",
    "MigrationError",
    "ModifyColumn",
    "Plan",
    "RenameColumn",
    "Scope",
    "Step",
    "migrate",
    "pending_version",
    "plan_migration",
]

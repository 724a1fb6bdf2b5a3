"""One `Prune[]` rule of config.json as ClickHouse SQL: which rows, and what happens to them.

What the Go tracker's prune rules were meant to do (its ClickHouse prune never ran), on ClickHouse:

* rows older than ``TTL`` seconds (by the table's time column: ``created_at`` for events) are
  expired; rows older than ``PruneSkipToTimestamp`` are left alone, and so are rows whose
  ``cflags`` share a bit with the rule's ``CFlagsIgnore`` values (``bitAnd(cflags, mask) != 0``);
* with ``ClearAll`` expired rows are deleted; otherwise each of ``Fields`` is set to its
  ``Default`` (or the column type's default). A field with ``DestParamHash`` first leaves
  ``{DestParamHash: base64url(SHA-1(value))}`` (with ``=`` padding, as Go's ``URLEncoding``)
  in ``params``, merged in, or with ``ClearParams`` replacing ``params`` altogether;
* rows whose fields all hold their default already are not touched again, so a rule can run
  any number of times and counts only the rows it changes.

``Table`` may name a table of the catalogue or one of the Go tracker's Cassandra tables that are
views over ``events`` here (``visitors``, ``sessions``, ``events_recent``): those prune
``events``. ``ClearNumericParams`` has nothing to clear (ClickHouse has no ``nparams`` column)
and ``PageSize`` nothing to page (a mutation rewrites a partition at once); both are accepted.
"""

from __future__ import annotations

from dataclasses import dataclass

from tracker.config import PruneField, PruneRule
from tracker.errors import TrackerError
from tracker.privacy.store import Column
from tracker.schema.tables import TABLES

__all__ = ["EVENTS_VIEWS", "CompiledRule", "PruneConfigError", "compile_rule", "resolve_table"]

EVENTS_VIEWS = frozenset({"visitors", "visitors_latest", "sessions", "events_recent"})
TIME_COLUMNS = ("created_at", "created", "day", "date", "ldate", "updated_at")


class PruneConfigError(TrackerError):
    """A Prune rule that cannot run against the live schema; nothing has been changed."""

    status = 400


@dataclass(frozen=True)
class CompiledRule:
    index: int  # position in the service's Prune list
    label: str  # the rule's Table as configured
    table: str  # the table that holds the rows
    time_column: str
    where: str  # the expired rows still to prune (no partition filter)
    assignments: str | None  # None: DELETE
    order_key: tuple[str, ...]  # a total order for stopping at PruneLimit inside a partition
    notes: tuple[str, ...] = ()  # what of the rule was accepted but has no effect


def quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def resolve_table(name: str) -> str:
    if name in TABLES:
        return name
    if name in EVENTS_VIEWS:
        return "events"
    known = ", ".join(sorted({*TABLES, *EVENTS_VIEWS}))
    raise PruneConfigError(f"Prune rule names table {name!r}: expected one of {known}.")


def _default(field: PruneField, column: Column) -> str:
    if field.default:
        return f"CAST({quote(field.default)} AS {column.type})"
    return f"defaultValueOfTypeName({quote(column.type)})"


def _hash(column: str) -> str:
    return f"concat(base64URLEncode(SHA1(toString({column}))), '=')"


def compile_rule(
    index: int, rule: PruneRule, columns: dict[str, Column], now: int, skip_to: int = 0
) -> CompiledRule:
    """The rule against ``columns`` (the live table's) at the moment ``now`` (unix seconds)."""
    table = resolve_table(rule.table)
    where_is = f"Prune rule {index} (table {rule.table!r})"
    time_column = next((c for c in TIME_COLUMNS if c in columns), None)
    if time_column is None:
        raise PruneConfigError(f"{where_is}: table {table!r} has no time column to age rows by.")
    conditions = [f"{ident(time_column)} < toDateTime64({now - rule.ttl}, 3)"]
    if skip_to > 0:
        conditions.append(f"{ident(time_column)} >= toDateTime64({skip_to}, 3)")
    notes: list[str] = []
    mask = 0
    for value in rule.cflags_ignore:
        mask |= value
    if mask and "cflags" in columns:
        conditions.append(f"bitAnd(cflags, {mask}) = 0")
    elif mask:
        notes.append(f"table {table} has no cflags column: CFlagsIgnore has no effect")
    if rule.clear_numeric_params:
        notes.append("ClearNumericParams: ClickHouse has no nparams column; nothing to clear")
    order_key = tuple(
        c.name for c in sorted(columns.values(), key=lambda c: c.position) if c.in_sorting_key
    )
    if rule.clear_all:
        return CompiledRule(
            index, rule.table, table, time_column, " AND ".join(conditions), None,
            (time_column, *order_key), tuple(notes),
        )  # fmt: skip
    if not rule.fields and not rule.clear_params:
        raise PruneConfigError(f"{where_is}: neither ClearAll, Fields nor ClearParams is set.")
    assignments, changed, hashes = [], [], []
    for field in rule.fields:
        column = columns.get(field.id)
        if column is None:
            raise PruneConfigError(f"{where_is}: table {table!r} has no column {field.id!r}.")
        if column.in_key:
            raise PruneConfigError(
                f"{where_is}: column {field.id!r} is part of the table's key; ClickHouse "
                "cannot change it in place (use ClearAll to delete the rows instead)."
            )
        name, default = ident(column.name), _default(field, column)
        assignments.append(f"{name} = {default}")
        changed.append(f"{name} != {default}")
        if field.dest_param_hash:
            hashes.append(
                f"{quote(field.dest_param_hash)}, if({name} != {default}, {_hash(name)}, '')"
            )
    if hashes or rule.clear_params:
        if "params" not in columns:
            raise PruneConfigError(f"{where_is}: table {table!r} has no params column for hashes.")
        found = (
            f"toJSONString(mapFilter((k, v) -> v != '', map({', '.join(hashes)})))"
            if hashes
            else "'{}'"
        )
        merged = found if rule.clear_params else f"JSONMergePatch(toJSONString(params), {found})"
        assignments.append(f"params = CAST({merged} AS JSON)")
        if not changed:
            changed.append("toJSONString(params) != '{}'")
    conditions.append("(" + " OR ".join(changed) + ")")
    return CompiledRule(
        index, rule.table, table, time_column, " AND ".join(conditions), ", ".join(assignments),
        (time_column, *order_key), tuple(notes),
    )  # fmt: skip

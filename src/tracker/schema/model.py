"""The declarative schema model: tables, columns, views and materialized views as plain data.

The catalogue (``tables.py``) is written with these types and nothing else; ``render.py`` turns it
into DDL for a topology. Every object is frozen and hashable, so a ``Table`` can key a cache (the
write plan caches one coercer per table).

Names are ClickHouse identifiers that the catalogue owns; expressions (``default``, ``order_by``,
``select`` …) are ClickHouse SQL text, copied into the DDL as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

ENGINES = ("MergeTree", "ReplacingMergeTree", "SummingMergeTree")


@dataclass(frozen=True)
class Column:
    """One column: its ClickHouse type text exactly as ``system.columns.type`` shows it."""

    name: str
    type: str
    default: str | None = None  # DEFAULT expression; None = the type's own default
    materialized: str | None = None  # MATERIALIZED expression; such a column is not insertable
    codec: str | None = None  # CODEC(...) argument text, e.g. "NONE"

    def __post_init__(self) -> None:
        if self.default is not None and self.materialized is not None:
            raise ValueError(
                f"Column {self.name!r} has both a DEFAULT and a MATERIALIZED expression: "
                "expected at most one."
            )


@dataclass(frozen=True)
class Table:
    """One storage table, named as the tracker inserts into it (cluster mode adds ``_local``)."""

    name: str
    columns: tuple[Column, ...]
    engine: str  # one of ENGINES; replication is the renderer's business
    engine_args: tuple[str, ...] = ()  # version column (Replacing) or sum columns (Summing)
    order_by: str = "tuple()"
    partition_by: str | None = None
    projections: tuple[str, ...] = ()  # full text: "PROJECTION p (SELECT _part_offset ORDER BY x)"
    ttl: str | None = None
    settings: tuple[tuple[str, str], ...] = ()  # (name, SQL literal), e.g. ("x_mode", "'rebuild'")
    indexes: tuple[str, ...] = ()  # full text: "INDEX i token_expires_at TYPE minmax GRANULARITY 1"
    keeper_path: str | None = None  # a replicated table's own Keeper path, where Go pins one
    # In a sharded cluster: the Distributed sharding expression; None means the rule of
    # `render.sharding_key` (a hash of columns every row carries, the same on every replay).
    shard_key: str | None = None

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(
                f"Table {self.name!r} has engine {self.engine!r}: expected one of {', '.join(ENGINES)}."
            )
        names = [column.name for column in self.columns]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(
                f"Table {self.name!r} declares columns {duplicates} more than once: "
                "expected unique names."
            )

    def insertable(self) -> tuple[Column, ...]:
        """The columns an INSERT may name (all but the MATERIALIZED ones), in table order."""
        return tuple(column for column in self.columns if column.materialized is None)

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"Table {self.name!r} has no column {name!r}.")

    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)


@dataclass(frozen=True)
class View:
    """A plain view (read side). ``select`` names the database as ``{db}``."""

    name: str
    select: str


@dataclass(frozen=True)
class MaterializedView:
    """A ``TO`` materialized view: each insert into its source also inserts into ``to_table``.

    ``select`` names the database as ``{db}``; its output columns must be named as the target's.
    ``backfill`` (``{db}`` too), when set, copies the rows the source held before the view was
    created; `tracker.schema.migrate` runs it right after creating the view on a store that has
    the source table already.
    """

    name: str
    to_table: str
    select: str
    backfill: str | None = None


@dataclass(frozen=True)
class InnerMaterializedView:
    """A materialized view that keeps its rows in a table of its own (ClickHouse names it
    ``.inner_id.<uuid>``), as the Go schema's lookup "indexes" do: ``payments_by_user`` …

    ``select`` names the database as ``{db}``. ``populate`` fills it from the source's rows at
    creation. A view over a plain view never fires after that (ClickHouse triggers on inserts into
    tables only), as in the Go tracker.
    """

    name: str
    select: str
    engine: str  # one of ENGINES; replication is the renderer's business
    engine_args: tuple[str, ...] = ()
    order_by: str = "tuple()"
    partition_by: str | None = None
    populate: bool = True

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(
                f"Materialized view {self.name!r} has engine {self.engine!r}: "
                f"expected one of {', '.join(ENGINES)}."
            )


__all__ = ["ENGINES", "Column", "InnerMaterializedView", "MaterializedView", "Table", "View"]

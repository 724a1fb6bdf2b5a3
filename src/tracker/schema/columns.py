"""Short constructors for catalogue columns: ``S`` String, ``LC`` LowCardinality(String), ``U``
UUID, ``DT`` DateTime64(3), ``D`` Date, ``J`` JSON, ``JB`` bounded JSON, and so on.

``S("app")`` is the String column ``app``; a default is given only where the Go schema declares one
(every other column takes its type's default: '' for strings, the zero UUID, 0, [], false, epoch).
"""

from __future__ import annotations

from tracker.schema.model import Column

NOW = "now64(3)"
EPOCH = "toDateTime64(0, 3)"
TODAY = "today()"
EMPTY_OBJECT = "'{}'"  # every JSON column's default
# A JSON column whose keys clients choose: each distinct key (path) becomes files in every part
# that holds it, so the paths kept as their own subcolumns, and the types per path, are bounded;
# the rest share one structure per part (still queryable as `params.key`, a little slower).
# With ClickHouse's default (1024 paths) hostile keys made ~80,000 files and exhausted the
# process's file descriptors; with this bound a part has a few hundred files at most.
BOUNDED_JSON = "JSON(max_dynamic_types=8, max_dynamic_paths=32)"  # as ClickHouse prints it
NEW_UUID = "generateUUIDv4()"


def S(name: str, default: str | None = None) -> Column:
    return Column(name, "String", default)


def LC(name: str) -> Column:
    return Column(name, "LowCardinality(String)")


def U(name: str, default: str | None = None) -> Column:
    return Column(name, "UUID", default)


def DT(name: str, default: str | None = None) -> Column:
    return Column(name, "DateTime64(3)", default)


def D(name: str, default: str | None = TODAY) -> Column:
    return Column(name, "Date", default)


def J(name: str) -> Column:
    return Column(name, "JSON", EMPTY_OBJECT)


def JB(name: str) -> Column:
    """A JSON column filled with keys the client chose (``params``, ``targets``): bounded."""
    return Column(name, BOUNDED_JSON, EMPTY_OBJECT)


def B(name: str) -> Column:
    return Column(name, "Bool")


def I8(name: str, default: str | None = None) -> Column:
    return Column(name, "Int8", default)


def I16(name: str, default: str | None = None) -> Column:
    return Column(name, "Int16", default)


def I32(name: str, default: str | None = None) -> Column:
    return Column(name, "Int32", default)


def I64(name: str, default: str | None = None) -> Column:
    return Column(name, "Int64", default)


def U16(name: str, default: str | None = None) -> Column:
    return Column(name, "UInt16", default)


def U32(name: str) -> Column:
    return Column(name, "UInt32")


def U64(name: str) -> Column:
    return Column(name, "UInt64")


def F64(name: str) -> Column:
    return Column(name, "Float64")


def AS(name: str) -> Column:
    return Column(name, "Array(String)")


def AU(name: str) -> Column:
    return Column(name, "Array(UUID)")


def AF32(name: str) -> Column:
    """An embedding kept as the Go schema declares it (default compression)."""
    return Column(name, "Array(Float32)")


def NULL(column: Column) -> Column:
    """``column`` as Nullable (default NULL), as the Go schema's budget tables declare some."""
    return Column(column.name, f"Nullable({column.type})")


def VEC(name: str) -> Column:
    """An embedding vector, stored uncompressed (random floats do not compress)."""
    return Column(name, "Array(Float32)", codec="NONE")


def offset_projection(name: str, key: str) -> str:
    """A projection that stores only row positions re-sorted by ``key`` (a secondary index)."""
    return f"PROJECTION {name} (SELECT _part_offset ORDER BY {key})"


__all__ = [
    "AF32",
    "AS",
    "AU",
    "BOUNDED_JSON",
    "DT",
    "EMPTY_OBJECT",
    "EPOCH",
    "F64",
    "I8",
    "I16",
    "I32",
    "I64",
    "JB",
    "LC",
    "NEW_UUID",
    "NOW",
    "NULL",
    "TODAY",
    "U16",
    "U32",
    "U64",
    "VEC",
    "B",
    "D",
    "J",
    "S",
    "U",
    "offset_projection",
]

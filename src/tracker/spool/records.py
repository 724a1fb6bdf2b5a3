"""`Record`: one row on its way to a table, as the planners make it and the spool keeps it.

A spool entry is one request's records: ``table TAB line`` joined by newlines (a JSONEachRow line
never holds a raw newline or tab, since JSON escapes both).
"""

from __future__ import annotations

from collections.abc import Sequence

Record = tuple[str, bytes]  # (table, one JSONEachRow line)


def encode(records: Sequence[Record]) -> bytes:
    return b"\n".join(table.encode() + b"\t" + line for table, line in records)


def decode(payload: bytes) -> list[Record]:
    records: list[Record] = []
    for item in payload.split(b"\n"):
        table, _, line = item.partition(b"\t")
        records.append((table.decode(), line))
    return records

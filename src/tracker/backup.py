"""Back up and restore a data directory: the embedded store, the spool and the keys beside them.

A backup directory holds::

    manifest.json    what was saved: database, schema version, the row count of every table
    clickhouse/      ClickHouse's own BACKUP of the database (File engine; chDB supports it)
    spool/           the log segments, the epoch and the writer's cursor journal
    deadletter/      rows the store refused, kept for the operator
    geoip/           imported GeoIP databases
    ip-hash.key*     the IP-hash key (and rotated ones): without it, `iphash` changes

The store and the spool must agree: the cursor journal says which spool rows are in the store.
So the caller holds the writer between two batches (``SinkWriter.paused``) or no server runs.
Rows acknowledged after that moment are not in the backup; everything before it is, once, either
in the store or in the spool (the restored tracker writes those at its start).

Restoring needs a data directory without a store, and checks every table's row count against
the manifest. For a ClickHouse server, use its own ``BACKUP … TO S3(…)`` / ``Disk(…)``
(docs/upgrading.md); `tracker backup` then saves the spool and keys only.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tracker import __version__
from tracker.datadir import DataDir
from tracker.errors import TrackerError
from tracker.schema.live import QueryFn, introspect, quote

FORMAT = 1
MANIFEST = "manifest.json"
STORE = "clickhouse"
COPIED_DIRS = ("spool", "deadletter", "geoip")


class BackupError(TrackerError):
    """A backup or restore cannot go on; the message says why and what to do."""


@dataclass(frozen=True)
class Manifest:
    database: str
    schema_version: int | None
    counts: dict[str, int]
    store: bool  # False when the store is a ClickHouse server (backed up by its own BACKUP)
    created_at: str
    tracker: str = __version__
    format: int = FORMAT

    def to_json(self) -> bytes:
        return json.dumps(self.__dict__, indent=2, sort_keys=True).encode() + b"\n"

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        return cls(**json.loads(data))

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        try:
            data = json.loads((directory / MANIFEST).read_text())
        except FileNotFoundError:
            raise BackupError(
                f"{directory} is not a tracker backup: it has no {MANIFEST}."
            ) from None
        except ValueError as exc:
            raise BackupError(f"{directory / MANIFEST} is not valid JSON: {exc}.") from None
        if data.get("format") != FORMAT:
            raise BackupError(
                f"{directory / MANIFEST} has format {data.get('format')!r}: expected {FORMAT}."
            )
        return cls(**data)


def row_counts(query: QueryFn, database: str) -> dict[str, int]:
    """The rows of every table of ``database``. Tables that collapse rows (Replacing, Summing)
    are counted as their merges will leave them (FINAL), so a merge between the count and the
    backup changes nothing."""
    live = introspect(query, database)
    tables = sorted(
        (name, table.family != "MergeTree")
        for name, table in live.tables.items()
        if not name.startswith(".inner") and table.engine.endswith("MergeTree")
    )
    if not tables:
        return {}
    sql = " UNION ALL ".join(
        f"SELECT {quote(name)} AS t, count() AS n FROM {database}.{name}{' FINAL' if final else ''}"
        for name, final in tables
    )
    out = query(sql, "TSV").decode()
    return {t: int(n) for t, n in (line.split("\t") for line in out.splitlines() if line)}


def _fresh_target(target: Path) -> None:
    if target.exists() and any(target.iterdir()):
        raise BackupError(f"The backup directory {target} is not empty: give a new or empty one.")
    target.mkdir(parents=True, exist_ok=True)


def _copy_files(source: Path, target: Path) -> None:
    """The directories and key files beside the store, modes kept (the keys stay 0600)."""
    for name in COPIED_DIRS:
        if (source / name).is_dir():
            shutil.copytree(source / name, target / name)
    for key in sorted(source.glob("ip-hash.key*")):
        if key.is_file():
            shutil.copy2(key, target / key.name)


def write_backup(target: Path, data_dir: DataDir, query: QueryFn | None, database: str) -> Manifest:
    """Save the store (when ``query`` reaches an embedded one) and the files beside it into
    ``target``. The caller holds the writer (or no server runs)."""
    target = target.resolve()
    _fresh_target(target)
    counts: dict[str, int] = {}
    version = None
    if query is not None:
        counts = row_counts(query, database)
        version = introspect(query, database).version
        destination = quote(str(target / STORE))
        query(f"BACKUP DATABASE {database} TO File({destination})", "TSV")
    _copy_files(data_dir.root, target)
    manifest = Manifest(
        database=database,
        schema_version=version,
        counts=counts,
        store=query is not None,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    (target / MANIFEST).write_bytes(manifest.to_json())
    return manifest


def restore_backup(
    source: Path,
    data_dir: DataDir,
    open_store: Callable[[], QueryFn],
    database: str,
) -> Manifest:
    """Restore ``source`` into ``data_dir``, which must hold no store and no spool yet; then
    check every table's rows against the manifest."""
    source = source.resolve()
    manifest = Manifest.read(source)
    root = data_dir.root
    taken = [
        name for name in (STORE, "spool") if (root / name).exists() and any((root / name).iterdir())
    ]
    if taken:
        raise BackupError(
            f"The data directory {root} already holds a {' and a '.join(taken)}: restore into"
            " a new directory (--data-dir), or move this one away first."
        )
    root.mkdir(parents=True, exist_ok=True)
    for name in COPIED_DIRS:
        if (source / name).is_dir():
            shutil.copytree(source / name, root / name, dirs_exist_ok=True)
    for key in sorted(source.glob("ip-hash.key*")):
        shutil.copy2(key, root / key.name)
        os.chmod(root / key.name, 0o600)
    if not manifest.store:
        return manifest
    query = open_store()
    origin = quote(str(source / STORE))
    query(
        f"RESTORE DATABASE {manifest.database} AS {database} FROM File({origin})"
        " SETTINGS allow_non_empty_tables = 0",
        "TSV",
    )
    restored = row_counts(query, database)
    missing = {
        name: (count, restored.get(name))
        for name, count in manifest.counts.items()
        if restored.get(name) != count
    }
    if missing:
        raise BackupError(
            "The restored store does not hold what the backup counted (table: saved, restored):"
            f" {missing}."
        )
    return manifest


__all__ = ["BackupError", "Manifest", "restore_backup", "row_counts", "write_backup"]

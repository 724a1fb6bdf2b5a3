"""`tracker backup DIR` and `tracker restore DIR`: the data directory's store, spool and keys.

A running server is asked through its control socket (it holds its writer meanwhile); a stopped
one's directory is opened here. With a ClickHouse server (`ClickHouseUrl`) only the spool and the
keys are saved: the server's data is backed up with its own BACKUP (docs/upgrading.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tracker.backup import Manifest, restore_backup, write_backup
from tracker.cli.common import Commands, add_common, settings_from
from tracker.control import remote_command
from tracker.datadir import DataDir, DirLock
from tracker.schema.live import QueryFn
from tracker.sinks.chdb import ChdbSink

NAMES = ("backup", "restore")


def add_parsers(commands: Commands) -> None:
    backup = commands.add_parser(
        "backup", help="save the store, spool and keys into a new directory (also while serving)"
    )
    backup.add_argument("dir", type=Path, help="a new or empty directory")
    add_common(backup)
    restore = commands.add_parser(
        "restore", help="restore a backup into a data directory that holds no store yet"
    )
    restore.add_argument("dir", type=Path, help="a directory made by `tracker backup`")
    add_common(restore)


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    data_dir = DataDir(settings.data_dir)
    embedded = not settings.clickhouse_url
    if args.command == "backup":
        if data_dir.owner_pid() is not None and data_dir.control_socket.exists():
            out = remote_command(data_dir.control_socket, "backup", dir=str(args.dir.resolve()))
            manifest = Manifest.from_json(out)
        else:
            lock = DirLock(data_dir)
            lock.acquire()
            sink = ChdbSink(data_dir.clickhouse, database=settings.database) if embedded else None
            try:
                query: QueryFn | None = sink.query if sink is not None else None
                manifest = write_backup(args.dir, data_dir, query, settings.database)
            finally:
                if sink is not None:
                    sink.close()
                lock.release()
        print(summary("saved", args.dir, manifest))
        return 0
    lock = DirLock(data_dir)
    lock.acquire()
    sinks: list[ChdbSink] = []

    def open_store() -> QueryFn:
        sinks.append(ChdbSink(data_dir.clickhouse, database=settings.database))
        return sinks[0].query

    try:
        manifest = restore_backup(args.dir, data_dir, open_store, settings.database)
    finally:
        for sink in sinks:
            sink.close()
        lock.release()
    print(summary("restored", args.dir, manifest))
    return 0


def summary(verb: str, directory: Path, manifest: Manifest) -> str:
    store = (
        f"{len(manifest.counts)} tables, {manifest.counts.get('events', 0)} events"
        if manifest.store
        else "the spool and keys only: back up the ClickHouse server with its own BACKUP"
        " (docs/upgrading.md)"
    )
    return f"tracker: {verb} {directory} (database {manifest.database}): {store}"

"""What every command shares: the config and data-dir arguments, settings, and reaching the store.

A user mistake raises `UsageError` (or a `TrackerError`/`ConfigError`): `tracker.cli.main` prints
``tracker: <what is wrong>`` and exits 2, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeAlias

from tracker.config import Settings, load_settings
from tracker.control import remote_query
from tracker.datadir import DataDir, DirLock
from tracker.sinks.base import Sink
from tracker.sinks.chdb import ChdbSink
from tracker.sinks.clickhouse import ClickHouseServerSink

# Where subcommands are added (a string: the class is generic only to type checkers).
Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


class UsageError(Exception):
    """A command used wrongly; the message says how to use it."""


def add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "config", nargs="?", type=Path, help="the Go tracker's config.json (optional)"
    )
    parser.add_argument("--data-dir", type=Path, help="data directory (default ./data)")
    parser.add_argument(
        "--clickhouse-url", help="a ClickHouse server instead of the embedded store (ClickHouseUrl)"
    )


def settings_from(args: argparse.Namespace) -> Settings:
    overrides: dict[str, object] = {}
    if getattr(args, "data_dir", None) is not None:
        overrides["DataDir"] = str(args.data_dir)
    if getattr(args, "clickhouse_url", None) is not None:
        overrides["ClickHouseUrl"] = args.clickhouse_url
    if getattr(args, "host", None) is not None:
        overrides["Host"] = args.host
    if getattr(args, "port", None) is not None:
        overrides["Port"] = args.port
    settings, warnings = load_settings(args.config, env=os.environ, overrides=overrides)
    for warning in warnings:
        print(f"tracker: warning: {warning}", file=sys.stderr)
    return settings


def with_store(
    settings: Settings, local: Callable[[Sink], bytes], remote: Callable[[Path], bytes]
) -> bytes:
    """Run against the store: a ClickHouse server directly; the embedded one through the live
    server's control socket when a server owns the directory, else by opening it here."""
    if settings.clickhouse_url:
        server = ClickHouseServerSink(
            settings.clickhouse_url, settings.database, settings.clickhouse_cluster
        )
        try:
            return local(server)
        finally:
            server.close()
    data_dir = DataDir(settings.data_dir)
    if data_dir.owner_pid() is not None and data_dir.control_socket.exists():
        return remote(data_dir.control_socket)
    lock = DirLock(data_dir)
    lock.acquire()
    sink = ChdbSink(data_dir.clickhouse, database=settings.database)
    try:
        sink.path.mkdir(parents=True, exist_ok=True)
        return local(sink)
    finally:
        sink.close()
        lock.release()


def run_query(settings: Settings, sql: str, fmt: str) -> bytes:
    def local(sink: Sink) -> bytes:
        return sink.query(sql, fmt)

    def remote(socket: Path) -> bytes:
        return remote_query(socket, sql, fmt)

    return with_store(settings, local, remote)

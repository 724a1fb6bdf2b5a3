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
from typing import Any, TypeAlias

from tqdm import tqdm

from tracker.config import Settings, load_settings
from tracker.control import remote_query
from tracker.datadir import DataDir, DirLock
from tracker.sinks.base import Sink

# Where subcommands are added (a string: the class is generic only to type checkers).
Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


# `--format` of query and console: short names, or any ClickHouse output format.
FORMATS = {
    "pretty": "PrettyCompact",
    "jsoneachrow": "JSONEachRow",
    "csv": "CSVWithNames",
    "tsv": "TSVWithNames",
}


def output_format(name: str) -> str:
    return FORMATS.get(name.lower(), name)


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


class _NoBar:
    """What `progress_bar` gives for no work: nothing to show, so nothing is shown."""

    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, n: int = 1) -> None:
        return None

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        return None


def progress_bar(what: str, unit: str) -> Callable[[int], Any]:
    """A factory of labelled bars on stderr: total -> ``what: 3/12 <unit> [elapsed<left, step]``.

    `prune` and `forget` call it with their number of steps, then ``update(1)`` and
    ``set_postfix_str(<the step>)`` as they go. Off a terminal, tqdm prints a line at most every
    few seconds. No work shows no bar."""

    def make(total: int) -> Any:
        if total == 0:
            return _NoBar()
        return tqdm(
            total=total,
            desc=what,
            unit=unit,
            file=sys.stderr,
            mininterval=0.5 if sys.stderr.isatty() else 5.0,
            bar_format="{desc}: {n_fmt}/{total_fmt} " + unit + " [{elapsed}<{remaining}{postfix}]",
        )

    return make


def settings_from(args: argparse.Namespace, *, show_warnings: bool = False) -> Settings:
    """The settings of a command's config file, environment and flags. Only `serve` shows the
    config's warnings (``show_warnings``): every other command would repeat them, on a config
    that a server has already started with."""
    overrides: dict[str, object] = {}
    if getattr(args, "data_dir", None) is not None:
        overrides["DataDir"] = str(args.data_dir)
    if getattr(args, "clickhouse_url", None) is not None:
        overrides["ClickHouseUrl"] = args.clickhouse_url
    if getattr(args, "host", None) is not None:
        overrides["Host"] = args.host
    if getattr(args, "port", None) is not None:
        overrides["Port"] = args.port
    if getattr(args, "workers", None) is not None:
        overrides["Workers"] = args.workers
    settings, warnings = load_settings(args.config, env=os.environ, overrides=overrides)
    for warning in warnings if show_warnings else ():
        print(f"tracker: warning: {warning}", file=sys.stderr)
    return settings


def with_store(
    settings: Settings,
    local: Callable[[Sink], bytes],
    remote: Callable[[Path], bytes],
    *,
    existing: bool = False,
) -> bytes:
    """Run against the store: a ClickHouse server directly; the embedded one through the live
    server's control socket when a server owns the directory, else by opening it here.

    ``existing``: the command reads what is stored (query, console, prune, forget), so a data
    directory without a store is a mistake (a typo in --data-dir), not a store to create."""
    # Imported here: chDB takes a second to import, which commands that need no store skip.
    from tracker.sinks.chdb import ChdbSink
    from tracker.sinks.clickhouse import ClickHouseServerSink

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
    if existing:
        data_dir.require_store()
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

    return with_store(settings, local, remote, existing=True)

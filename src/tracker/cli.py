"""The command line: ``tracker [config.json]`` as in the seed, plus subcommands.

    tracker [serve] [config.json] [--host H] [--port P] [--data-dir D]
    tracker schema load|render [config.json] [--data-dir D] [--topology embedded|cluster]
    tracker query [config.json] [--data-dir D] [--format pretty|JSONEachRow|CSV|TSV] "SQL"
    tracker console [config.json] [--data-dir D]
    tracker accounts add [config.json] [--data-dir D] [--uid UID] --password PW|-
    tracker geoip lookup IP [config.json] [--data-dir D]
    tracker geoip import FILE [FILE ...] [--config config.json] [--data-dir D]
    tracker prune [config.json] [--data-dir D] [--logs-only]   (also: tracker --prune config.json)
    tracker forget [config.json] [--data-dir D] --vid X | --uid Y
    tracker ip-key rotate [config.json] [--data-dir D]

A user mistake never prints a traceback: it prints ``tracker: <what is wrong>`` and exits 2.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from tracker import __version__
from tracker.config import ConfigError, Settings, load_settings
from tracker.control import remote_query
from tracker.datadir import DataDir, DirLock
from tracker.errors import DataDirInUse, TrackerError
from tracker.normalise.geoip import commands as geoip_commands
from tracker.privacy import commands as privacy_commands
from tracker.schema.render import Topology, render
from tracker.sinks.base import Sink
from tracker.sinks.chdb import ChdbSink
from tracker.sinks.clickhouse import ClickHouseServerSink

SUBCOMMANDS = ("serve", "schema", "query", "console", "accounts", "geoip", *privacy_commands.NAMES)
FORMATS = {
    "pretty": "PrettyCompact",
    "jsoneachrow": "JSONEachRow",
    "csv": "CSVWithNames",
    "tsv": "TSVWithNames",
}


class UsageError(Exception):
    pass


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "config", nargs="?", type=Path, help="the Go tracker's config.json (optional)"
    )
    parser.add_argument("--data-dir", type=Path, help="data directory (default ./data)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tracker", description="Event tracking into ClickHouse.")
    parser.add_argument("--version", action="version", version=f"tracker {__version__}")
    commands = parser.add_subparsers(dest="command")

    serve = commands.add_parser("serve", help="serve HTTP (the default command)")
    _common(serve)
    serve.add_argument("--host", help="address to listen on (default 0.0.0.0)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8080)")
    serve.add_argument(
        "--prune", action="store_true", help="prune (see `tracker prune`), then exit"
    )
    serve.add_argument("--logs-only", action="store_true", help="with --prune: only the logs")

    schema = commands.add_parser("schema", help="create or show the ClickHouse schema")
    schema.add_argument("action", choices=("load", "render"))
    _common(schema)
    schema.add_argument(
        "--topology", choices=[t.value for t in Topology], default=Topology.EMBEDDED.value
    )

    query = commands.add_parser("query", help="run SQL against the store (also while serving)")
    _common(query)  # first, so that `tracker query config.json "SQL"` reads as documented
    query.add_argument("sql", help="the SQL to run; `events` and `sfpla.events` both work")
    query.add_argument(
        "--format",
        default="pretty",
        help="pretty, JSONEachRow, CSV, TSV or any ClickHouse output format",
    )

    console = commands.add_parser("console", help="an interactive SQL prompt on the store")
    _common(console)

    accounts = commands.add_parser(
        "accounts", help="add an account of the redirect API (also while serving)"
    )
    accounts.add_argument("action", choices=("add",))
    _common(accounts)
    accounts.add_argument("--uid", help="the account id (a UUID); default: a new random one")
    accounts.add_argument(
        "--password", required=True, help="the password; '-' reads one line from stdin"
    )
    geoip_commands.add_parser(commands)
    privacy_commands.add_parsers(commands)
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    overrides: dict[str, object] = {}
    if getattr(args, "data_dir", None) is not None:
        overrides["DataDir"] = str(args.data_dir)
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


def cmd_serve(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    if args.prune:  # the seed's `tracker --prune [--logs-only] config.json`: prune, then exit
        return privacy_commands.cmd_prune(settings, args.logs_only, with_store)
    owner = DataDir(settings.data_dir).owner_pid()
    if owner is not None:  # say so before uvicorn starts, rather than as a failed start-up
        raise DataDirInUse(
            f"The data directory {settings.data_dir} is in use by tracker PID {owner}."
        )
    import uvicorn

    from tracker.http.app import TrackerApp
    from tracker.http.limits import server_options

    app = TrackerApp(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        lifespan="on",
        access_log=False,
        log_level="info" if settings.debug else "warning",
        timeout_graceful_shutdown=max(int(settings.shutdown_timeout_seconds), 1),
        **server_options(settings, ws_limit=settings.max_body_bytes),
    )
    server = uvicorn.Server(config)
    # After a graceful shutdown uvicorn re-raises the signal that stopped it; with the default
    # SIGTERM action that would end the process with -15 although everything was written.
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    server.run()
    return 0 if server.started else 1


def cmd_schema(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    topology = Topology(args.topology)
    if args.action == "render":
        for statement in render(topology, database=settings.database):
            print(statement.rstrip() + ";\n")
        return 0
    if topology is not Topology.EMBEDDED:
        raise UsageError(
            "schema load works on the embedded store; for a server use `schema render`."
        )

    def remote(socket: Path) -> bytes:
        for statement in render(topology, database=settings.database):
            remote_query(socket, statement, "TSV")
        return b""

    def local(sink: Sink) -> bytes:
        sink.open()  # creates the schema (idempotent)
        return b""

    with_store(settings, local, remote)
    print(
        f"tracker: schema loaded into {settings.data_dir / 'clickhouse'} (database {settings.database})"
    )
    return 0


def cmd_query(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    fmt = FORMATS.get(args.format.lower(), args.format)
    output = run_query(settings, args.sql, fmt)
    sys.stdout.buffer.write(output)
    sys.stdout.flush()
    return 0


def cmd_console(args: argparse.Namespace) -> int:
    import readline  # noqa: F401 - line editing and history for input()

    settings = settings_from(args)
    print(
        f"tracker console on {settings.data_dir} (database {settings.database}); end statements with ';', quit with Ctrl-D"
    )
    pending: list[str] = []
    while True:
        try:
            line = input("tracker> " if not pending else "      -> ")
        except EOFError:
            print()
            return 0
        pending.append(line)
        text = "\n".join(pending).strip()
        if not text.endswith(";"):
            continue
        pending = []
        sql = text.rstrip(";").strip()
        if not sql:
            continue
        try:
            output = run_query(settings, sql, "PrettyCompact")
        except TrackerError as exc:
            print(f"error: {exc}")
            continue
        sys.stdout.buffer.write(output)
        sys.stdout.flush()


def cmd_accounts(args: argparse.Namespace) -> int:
    from tracker.accounts import new_account

    settings = settings_from(args)
    password = sys.stdin.readline().rstrip("\r\n") if args.password == "-" else args.password
    uid, sql = new_account(args.uid, password)

    def local(sink: Sink) -> bytes:
        sink.open()
        return sink.query(sql, "TSV")

    with_store(settings, local, lambda socket: remote_query(socket, sql, "TSV"))
    print(f"tracker: account {uid} added")
    return 0


def cmd_geoip(args: argparse.Namespace) -> int:
    return geoip_commands.run(args, settings_from)


def cmd_privacy(args: argparse.Namespace) -> int:
    return privacy_commands.run(args, settings_from, with_store)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0] not in SUBCOMMANDS and argv[0] not in ("-h", "--help", "--version")):
        argv.insert(0, "serve")  # `tracker [--prune] [config.json]` as in the seed
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # `tracker query config.json --format CSV "SQL"`: argparse took the file for the SQL.
    if args.command == "query" and args.config is None and len(extra) == 1 and extra[0][:1] != "-":
        args.config, args.sql, extra = Path(args.sql), extra[0], []
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    handlers = {
        "serve": cmd_serve,
        "schema": cmd_schema,
        "query": cmd_query,
        "console": cmd_console,
        "accounts": cmd_accounts,
        "geoip": cmd_geoip,
        **dict.fromkeys(privacy_commands.NAMES, cmd_privacy),
    }
    try:
        return handlers[args.command](args)
    except (ConfigError, UsageError, TrackerError, geoip_commands.GeoipUsageError) as exc:
        print(f"tracker: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

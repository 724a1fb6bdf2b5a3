"""The commands on the store: `schema load|render`, `query`, `console` and `accounts add`.

Each works on a stopped tracker's store (opened here), on a running one (through its control
socket) and on a ClickHouse server.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tracker.cli.common import (
    Commands,
    UsageError,
    add_common,
    run_query,
    settings_from,
    with_store,
)
from tracker.control import remote_query
from tracker.errors import TrackerError
from tracker.schema.render import Topology, render
from tracker.sinks.base import Sink

NAMES = ("schema", "query", "console", "accounts")
FORMATS = {
    "pretty": "PrettyCompact",
    "jsoneachrow": "JSONEachRow",
    "csv": "CSVWithNames",
    "tsv": "TSVWithNames",
}


def add_parsers(commands: Commands) -> None:
    schema = commands.add_parser("schema", help="create or show the ClickHouse schema")
    schema.add_argument("action", choices=("load", "render"))
    add_common(schema)
    schema.add_argument(
        "--topology", choices=[t.value for t in Topology], default=Topology.EMBEDDED.value
    )

    query = commands.add_parser("query", help="run SQL against the store (also while serving)")
    add_common(query)  # first, so that `tracker query config.json "SQL"` reads as documented
    query.add_argument("sql", help="the SQL to run; `events` and `sfpla.events` both work")
    query.add_argument(
        "--format",
        default="pretty",
        help="pretty, JSONEachRow, CSV, TSV or any ClickHouse output format",
    )

    console = commands.add_parser("console", help="an interactive SQL prompt on the store")
    add_common(console)

    accounts = commands.add_parser(
        "accounts", help="add an account of the redirect API (also while serving)"
    )
    accounts.add_argument("action", choices=("add",))
    add_common(accounts)
    accounts.add_argument("--uid", help="the account id (a UUID); default: a new random one")
    accounts.add_argument(
        "--password", required=True, help="the password; '-' reads one line from stdin"
    )


def run(args: argparse.Namespace) -> int:
    handlers = {
        "schema": cmd_schema,
        "query": cmd_query,
        "console": cmd_console,
        "accounts": cmd_accounts,
    }
    return handlers[args.command](args)


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

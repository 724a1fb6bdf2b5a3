"""The commands on the store: `schema load|migrate|render`, `query` and `accounts add`
(`console` is in `console.py`).

Each works on a stopped tracker's store (opened here), on a running one (through its control
socket) and on a ClickHouse server.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from urllib.parse import urlsplit

from tracker.cli.common import (
    Commands,
    UsageError,
    add_common,
    output_format,
    run_query,
    settings_from,
    with_store,
)
from tracker.config import Settings
from tracker.control import remote_query
from tracker.schema.migrate import Plan, Scope, migrate, plan_migration
from tracker.schema.render import DEFAULT_CLUSTER, Topology, render
from tracker.sinks.base import Sink

NAMES = ("schema", "query", "accounts")


def add_parsers(commands: Commands) -> None:
    schema = commands.add_parser(
        "schema", help="create, upgrade or show the ClickHouse schema (the Go tracker's whole one)"
    )
    schema.add_argument("action", choices=("load", "migrate", "render"))
    add_common(schema)
    schema.add_argument(
        "--topology",
        choices=[t.value for t in Topology],
        default=None,
        help="render: the topology to render for (default: the store's)",
    )
    schema.add_argument(
        "--dry-run", action="store_true", help="migrate: print the steps, run none of them"
    )

    query = commands.add_parser("query", help="run SQL against the store (also while serving)")
    add_common(query)  # first, so that `tracker query config.json "SQL"` reads as documented
    query.add_argument("sql", help="the SQL to run; `events` and `sfpla.events` both work")
    query.add_argument(
        "--format",
        default="pretty",
        help="pretty, JSONEachRow, CSV, TSV or any ClickHouse output format",
    )

    accounts = commands.add_parser(
        "accounts", help="add an account of the redirect API (also while serving)"
    )
    accounts.add_argument("action", choices=("add",))
    add_common(accounts)
    accounts.add_argument("--uid", help="the account id (a UUID); default: a new random one")
    accounts.add_argument(
        "--password",
        help="'-' reads the password as one line from stdin; left out, it is asked for at a "
        "prompt (twice, not shown). A password written here is seen by every user in `ps`",
    )


def run(args: argparse.Namespace) -> int:
    handlers = {
        "schema": cmd_schema,
        "query": cmd_query,
        "accounts": cmd_accounts,
    }
    return handlers[args.command](args)


def store_name(settings: Settings) -> str:
    """The store, for messages: a server by host and port (its URL may hold a password)."""
    if not settings.clickhouse_url:
        return str(settings.data_dir / "clickhouse")
    parts = urlsplit(settings.clickhouse_url)
    where = f"ClickHouse at {parts.hostname}:{parts.port or 8123}"
    if settings.clickhouse_cluster:
        where += f", ON CLUSTER {settings.clickhouse_cluster}"
    return where


def cmd_schema(args: argparse.Namespace) -> int:
    """`render` prints the DDL; `load` and `migrate` bring the store to the whole catalogue
    (creating what is missing, running pending migrations, never dropping anything)."""
    settings = settings_from(args)
    cluster = settings.clickhouse_cluster
    default = Topology.CLUSTER if settings.clickhouse_url and cluster else Topology.EMBEDDED
    topology = Topology(args.topology) if args.topology else default
    if args.action == "render":
        statements = render(topology, settings.database, cluster or DEFAULT_CLUSTER)
        for statement in statements:
            print(statement.rstrip() + ";\n")
        return 0
    if topology is not default:
        raise UsageError(
            f"schema {args.action} works on the configured store ({default.value});"
            " --topology is for `schema render`."
        )
    run = plan_migration if args.dry_run else migrate
    plans: list[Plan] = []

    def local(sink: Sink) -> bytes:
        plans.append(
            run(sink.query, topology, settings.database, cluster or DEFAULT_CLUSTER, Scope.ALL)
        )
        return b""

    def remote(socket: Path) -> bytes:
        def query(sql: str, fmt: str) -> bytes:
            return remote_query(socket, sql, fmt)

        plans.append(run(query, topology, settings.database, DEFAULT_CLUSTER, Scope.ALL))
        return b""

    with_store(settings, local, remote)
    (plan,) = plans
    where = store_name(settings)
    if args.action == "load":
        print(
            f"tracker: schema loaded into {where} (database {settings.database}):"
            f" {len(plan.steps)} steps, schema version {plan.to_version}"
        )
        return 0
    for line in plan.lines():
        print(f"  {line}")
    before = "no version" if plan.from_version is None else f"version {plan.from_version}"
    outcome = (
        f"would run {len(plan.steps)} steps to reach version {plan.to_version}"
        if args.dry_run
        else f"ran {len(plan.steps)} steps, now at version {plan.to_version}"
    )
    print(
        f"tracker: schema of {settings.database} in {where} ({plan.origin.value}, {before}): {outcome}"
    )
    return 0


def cmd_query(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    fmt = output_format(args.format)
    output = run_query(settings, args.sql, fmt)
    sys.stdout.buffer.write(output)
    sys.stdout.flush()
    return 0


def read_password(given: str | None) -> str:
    """The new account's password: from stdin (``-``), a prompt (left out), or as given."""
    if given == "-":
        return sys.stdin.readline().rstrip("\r\n")
    if given is not None:
        return given
    if not sys.stdin.isatty():
        raise UsageError(
            "No terminal to ask for the password: give it on stdin with --password - "
            "(e.g. `tracker accounts add --password - < file`)."
        )
    import getpass

    password = getpass.getpass("Password for the new account: ")
    if getpass.getpass("The same password again: ") != password:
        raise UsageError("The two passwords differ; nothing was added.")
    return password


def cmd_accounts(args: argparse.Namespace) -> int:
    from tracker.accounts import new_account

    settings = settings_from(args)
    uid, sql = new_account(args.uid, read_password(args.password))

    def local(sink: Sink) -> bytes:
        sink.open()
        return sink.query(sql, "TSV")

    with_store(settings, local, lambda socket: remote_query(socket, sql, "TSV"))
    print(f"tracker: account {uid} added")
    return 0

"""`tracker [serve] [config.json]`: serve HTTP (and HTTPS) until SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse

from tracker.cli import privacy, supervisor
from tracker.cli.common import Commands, add_common, settings_from
from tracker.datadir import DataDir
from tracker.errors import DataDirInUse

NAMES = ("serve",)


def add_parsers(commands: Commands) -> None:
    serve = commands.add_parser("serve", help="serve HTTP (the default command)")
    add_common(serve)
    serve.add_argument("--host", help="address to listen on (default 0.0.0.0)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8080)")
    serve.add_argument(
        "--prune", action="store_true", help="prune (see `tracker prune`), then exit"
    )
    serve.add_argument("--logs-only", action="store_true", help="with --prune: only the logs")
    serve.add_argument(
        "--workers", type=int, help="HTTP worker processes (Workers; docs/workers.md)"
    )
    # The supervisor of `Workers` > 1 starts its children with these (docs/workers.md).
    serve.add_argument("--role", choices=("owner", "worker"), help=argparse.SUPPRESS)
    serve.add_argument("--worker-index", type=int, default=0, help=argparse.SUPPRESS)
    serve.add_argument("--listen-ports", default="", help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    return cmd_serve(args)


def cmd_serve(args: argparse.Namespace) -> int:
    settings = settings_from(args, show_warnings=not args.prune and args.role is None)
    if args.prune:  # the seed's `tracker --prune [--logs-only] config.json`: prune, then exit
        return privacy.cmd_prune(settings, args.logs_only)
    if args.role == "owner":
        return supervisor.run_owner(settings)
    if args.role == "worker":
        ports = supervisor.parse_ports(args.listen_ports)
        return supervisor.run_worker(settings, args.worker_index, ports)
    owner = DataDir(settings.data_dir).owner_pid()
    if owner is not None:  # say so before uvicorn starts, rather than as a failed start-up
        raise DataDirInUse(
            f"The data directory {settings.data_dir} is in use by tracker PID {owner}."
        )
    if settings.workers > 1:
        return supervisor.serve_workers(args, settings)
    from tracker.consume import consumers
    from tracker.http.app import TrackerApp
    from tracker.http.limits import raise_open_files_limit
    from tracker.http.servers import Servers

    raise_open_files_limit()  # first: the connection cap of server_options follows the limit
    servers = Servers(settings)  # the listeners and their certificates (a bad one stops here)
    servers.bind()  # a taken port stops start-up before the data directory is touched
    app = TrackerApp(settings)
    for consumer in consumers(settings, app.rt.ingest):  # broker sources, beside HTTP
        app.rt.attach(consumer)
    return 0 if servers.run(app) else 1

"""The privacy commands:

    tracker prune [config.json] [--data-dir D] [--logs-only]     (also `tracker --prune …`)
    tracker forget [config.json] [--data-dir D] --vid X | --uid Y
    tracker ip-key rotate [config.json] [--data-dir D]

``prune`` and ``forget`` work on a stopped tracker's store (opened here) and on a running one
(through its control socket); ``ip-key rotate`` only touches the key file.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from tracker.cli.common import Commands, add_common, progress_bar, settings_from, with_store
from tracker.config import Settings
from tracker.control import remote_query
from tracker.datadir import DataDir
from tracker.errors import BadRequest
from tracker.normalise.ids import parse_uuid
from tracker.privacy.forget import forget
from tracker.privacy.ipkey import rotate_ip_key
from tracker.privacy.prune import prune
from tracker.privacy.store import Store, store_for
from tracker.sinks.base import Sink

__all__ = ["NAMES", "add_parsers", "cmd_prune", "run"]

NAMES = ("prune", "forget", "ip-key")
T = TypeVar("T")


def add_parsers(commands: Commands) -> None:
    pruner = commands.add_parser(
        "prune", help="apply the Prune rules of config.json and expire old logs (resumable)"
    )
    add_common(pruner)
    pruner.add_argument("--logs-only", action="store_true", help="prune only the logs table")
    forgetter = commands.add_parser(
        "forget", help="delete every row of one visitor (--vid) or user and their visitors (--uid)"
    )
    add_common(forgetter)
    who = forgetter.add_mutually_exclusive_group(required=True)
    who.add_argument("--vid", help="the visitor id (a UUID)")
    who.add_argument("--uid", help="the user id (a UUID)")
    ipkey = commands.add_parser("ip-key", help="rotate the generated key of the IP hash")
    ipkey.add_argument("action", choices=("rotate",))
    add_common(ipkey)


def _on_store(settings: Settings, work: Callable[[Store, bool], T]) -> T:
    """Run ``work(store, remote)`` on the running server's store, or on the directory itself."""
    out: list[T] = []

    def local(sink: Sink) -> bytes:
        sink.open()  # creates what is missing of the schema, so every table can be read
        out.append(work(store_for(settings, sink.query), False))
        return b""

    def remote(socket: Path) -> bytes:
        out.append(
            work(Store(lambda sql, fmt: remote_query(socket, sql, fmt), settings.database), True)
        )
        return b""

    with_store(settings, local, remote, existing=True)
    return out[0]


def cmd_prune(settings: Settings, logs_only: bool) -> int:
    bar = progress_bar("prune", "partitions")
    report = _on_store(
        settings, lambda store, _: prune(store, settings, logs_only=logs_only, progress=bar)
    )
    for note in report.notes:
        print(f"tracker: note: {note}", file=sys.stderr)
    if report.resumed:
        print("tracker: continued the prune that was stopped earlier")
    for label, rows in report.rows.items():
        print(f"tracker: prune {label}: {rows} rows")
    if report.limit_reached:
        print(f"tracker: PruneLimit ({settings.prune_limit} rows) reached; run again to go on")
    else:
        print(f"tracker: prune finished ({report.partitions} partitions changed)")
    return 0


def cmd_forget(settings: Settings, args: argparse.Namespace) -> int:
    given = args.vid if args.vid is not None else args.uid
    person = parse_uuid(given)
    if person is None:
        raise BadRequest(
            f"--{'vid' if args.vid is not None else 'uid'} {given[:64]!r} is not a UUID."
        )
    vid, uid = (person, None) if args.vid is not None else (None, person)
    remote_flag: list[bool] = []

    def work(store: Store, remote: bool) -> Any:
        remote_flag.append(remote)
        return forget(store, vid=vid, uid=uid, progress=progress_bar("forget", "tables"))

    report = _on_store(settings, work)
    print(
        f"tracker: forgot {len(report.vids)} visitor id(s), {len(report.uids)} user id(s): {report.total} rows"
    )
    for table, rows in sorted(report.removed.items()):
        print(f"  {table}: {rows}")
    if remote_flag and remote_flag[0]:
        print(
            "tracker: note: the tracker is running; events it accepted but has not written yet "
            "may still land. Run forget again after the batch window, or use POST "
            f"/tr/v{settings.api_version}/ppi/forget, which waits for them.",
            file=sys.stderr,
        )
    return 0


def cmd_ip_key(settings: Settings) -> int:
    if settings.ip_hash_secret is not None:
        raise BadRequest(
            "IPHashSecret is set in the config, so the key file is not used: change IPHashSecret."
        )
    data_dir = DataDir(settings.data_dir)
    kept = rotate_ip_key(data_dir)
    print(
        f"tracker: new IP-hash key in {data_dir.secret_file}"
        + (f"; the old one is kept in {kept}" if kept else "")
    )
    running = data_dir.owner_pid() is not None
    print(
        "tracker: it takes effect when the tracker next starts"
        + (" (the running one still uses the old key: restart it)" if running else "")
        + "; iphash values from before and after do not join."
    )
    return 0


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    if args.command == "prune":
        return cmd_prune(settings, args.logs_only)
    if args.command == "forget":
        return cmd_forget(settings, args)
    return cmd_ip_key(settings)

"""The command line: ``tracker [config.json]`` as in the seed, plus subcommands.

    tracker [serve] [config.json] [--host H] [--port P] [--data-dir D]
    tracker schema load|migrate|render [config.json] [--data-dir D] [--dry-run] [--topology T]
    tracker query [config.json] [--data-dir D] [--format pretty|JSONEachRow|CSV|TSV] "SQL"
    tracker console [config.json] [--data-dir D] [--format F]   (a prompt, or a script from a pipe)
    tracker accounts add [config.json] [--data-dir D] [--uid UID] --password PW|-
    tracker geoip lookup IP [config.json] [--data-dir D]
    tracker geoip import FILE [FILE ...] [--config config.json] [--data-dir D]
    tracker prune [config.json] [--data-dir D] [--logs-only]   (also: tracker --prune config.json)
    tracker forget [config.json] [--data-dir D] --vid X | --uid Y
    tracker ip-key rotate [config.json] [--data-dir D]
    tracker backup DIR [config.json] [--data-dir D]      (also while serving)
    tracker restore DIR [config.json] [--data-dir D]
    tracker cluster render --nodes N --topology single|replicated|sharded|hybrid --out DIR

Each module of this package is one group of commands: its ``NAMES``, ``add_parsers`` and ``run``.
A user mistake never prints a traceback: it prints ``tracker: <what is wrong>`` and exits 2.
"""

from __future__ import annotations

import argparse
import difflib
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from tracker import __version__
from tracker.cli import backup, cluster, console, geoip, privacy, serve, store
from tracker.cli.common import UsageError
from tracker.config import ConfigError
from tracker.errors import TrackerError

GROUPS = (serve, store, console, geoip, privacy, backup, cluster)
SUBCOMMANDS = tuple(name for group in GROUPS for name in group.NAMES)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tracker", description="Event tracking into ClickHouse.")
    parser.add_argument("--version", action="version", version=f"tracker {__version__}")
    commands = parser.add_subparsers(dest="command")
    for group in GROUPS:
        group.add_parsers(commands)
    return parser


def not_a_command(word: str) -> str | None:
    """Why ``word``, the first argument, is neither a command nor a config file (None when it
    may be a config file): ``tracker serv`` is a typo of ``serve``, not a file named 'serv'."""
    if word.startswith("-") or word.endswith(".json") or Path(word).exists():
        return None
    close = difflib.get_close_matches(word, SUBCOMMANDS, n=1, cutoff=0.6)
    hint = (
        f"did you mean `tracker {close[0]}`?"
        if close
        else "the commands: " + ", ".join(SUBCOMMANDS)
    )
    return f"'{word}' is neither a command nor a config file; {hint}"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0] not in SUBCOMMANDS and argv[0] not in ("-h", "--help", "--version")):
        if argv and (mistake := not_a_command(argv[0])):
            print(f"tracker: {mistake}", file=sys.stderr)
            return 2
        argv.insert(0, "serve")  # `tracker [--prune] [config.json]` as in the seed
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command == "query":
        extra = _query_order(args, extra)
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    run: Callable[[argparse.Namespace], int] = next(
        group.run for group in GROUPS if args.command in group.NAMES
    )
    try:
        code = run(args)
        sys.stdout.flush()  # here, so that a closed pipe is reported below, not at exit
        return code
    except (ConfigError, UsageError, TrackerError) as exc:
        print(f"tracker: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `tracker schema render | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE  # what a shell reports for a program a closed pipe ended
    except KeyboardInterrupt:
        return 130


def _query_order(args: argparse.Namespace, extra: list[str]) -> list[str]:
    """`tracker query [config.json] "SQL"`, in either order; returns what is still unparsed."""
    # `tracker query config.json --format CSV "SQL"`: argparse took the file for the SQL.
    if args.config is None and len(extra) == 1 and extra[0][:1] != "-":
        args.config, args.sql = Path(args.sql), extra[0]
        return []
    # `tracker query "SQL" config.json`: the SQL is no file, the config is.
    if args.config is not None and not args.config.exists() and Path(args.sql).is_file():
        args.config, args.sql = Path(args.sql), str(args.config)
    return extra


if __name__ == "__main__":
    sys.exit(main())

"""The control socket: ``tracker query`` reaches a running server's store through it.

chDB allows one process per data directory, so while the server runs, queries go through a Unix
socket in the data directory (mode 0600). One request per connection: a JSON line
``{"sql": ..., "format": ..., "params": {...}}``, or ``{"command": NAME, ...}`` for the few
operations the server itself must do (``backup``: hold the writer while the store and spool are
copied; with `Workers` > 1 the HTTP workers' ``health``, ``offsets`` and ``metrics``, see
docs/workers.md); the answer is a JSON status line, then the raw output. A failed query's status
line says whether the store refused it or could not run it (``"kind"``), so a worker that queries
through this socket raises the same error class as the store would have.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import orjson

from tracker.errors import SinkRejected, SinkUnreachable, TrackerError

QueryFn = Callable[[str, str, Mapping[str, object] | None], bytes]
CommandFn = Callable[[dict[str, object]], bytes]
MAX_REQUEST_BYTES = 16 * 2**20  # one JSON line: far above any SQL a command line can carry


class ControlServer:
    def __init__(
        self, path: Path, query: QueryFn, commands: dict[str, CommandFn] | None = None
    ) -> None:
        self.path = path
        self.query = query
        self.commands = commands or {}
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self._server = await asyncio.start_unix_server(
            self._handle, path=str(self.path), limit=MAX_REQUEST_BYTES
        )
        os.chmod(self.path, 0o600)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = orjson.loads(await reader.readline())
            if "command" in request:
                output = await asyncio.to_thread(self.commands[str(request["command"])], request)
            else:
                params = request.get("params")
                output = await asyncio.to_thread(
                    self.query,
                    str(request["sql"]),
                    str(request.get("format", "PrettyCompact")),
                    dict(params) if isinstance(params, dict) else None,
                )
            writer.write(b'{"ok":true}\n')
            writer.write(output)
        except TrackerError as exc:
            kind = "rejected" if isinstance(exc, SinkRejected) else "error"
            kind = "unreachable" if isinstance(exc, SinkUnreachable) else kind
            writer.write(orjson.dumps({"ok": False, "error": exc.message, "kind": kind}) + b"\n")
        except (ValueError, KeyError, TypeError):  # ValueError: bad JSON, or over the limit
            writer.write(b'{"ok":false,"error":"bad control request"}\n')
        finally:
            with contextlib.suppress(ConnectionError):
                await writer.drain()
            writer.close()


def remote_query(
    path: Path,
    sql: str,
    fmt: str,
    timeout: float = 300.0,
    params: Mapping[str, object] | None = None,
) -> bytes:
    """Run ``sql`` in the server listening on ``path``; raise TrackerError with its message
    (SinkRejected or SinkUnreachable when the store refused it or could not run it)."""
    request: dict[str, object] = {"sql": sql, "format": fmt}
    if params:
        request["params"] = dict(params)
    return _request(path, request, timeout)


def remote_command(path: Path, command: str, timeout: float = 3600.0, **args: object) -> bytes:
    """Ask the server listening on ``path`` to run one of its control commands."""
    return _request(path, {"command": command, **args}, timeout)


def _request(path: Path, request: dict[str, object], timeout: float) -> bytes:
    chunks = []
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(path))
            sock.sendall(orjson.dumps(request, default=str) + b"\n")
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    except OSError as exc:  # the server stopped, or did not answer in time
        raise SinkUnreachable(f"The tracker server's control socket {path} failed: {exc}.") from exc
    status_line, _, output = b"".join(chunks).partition(b"\n")
    try:
        status = orjson.loads(status_line)
    except orjson.JSONDecodeError:
        raise SinkUnreachable(
            "The tracker server closed the control socket without an answer."
        ) from None
    if not status.get("ok"):
        raise _ERRORS.get(str(status.get("kind")), TrackerError)(
            str(status.get("error", "query failed"))
        )
    return output


_ERRORS: dict[str, Any] = {"rejected": SinkRejected, "unreachable": SinkUnreachable}

"""ClickHouse's HTTP interface over chDB, for the tests (not part of the product).

No ClickHouse server package can be installed here, but chDB *is* the ClickHouse engine: this
module answers ClickHouse's HTTP protocol with a chDB store, so the server sink
(clickhouse-connect, unmodified) runs against the real engine. Run it as a process:

    python -m tests.support.clickhouse_http --path DIR [--port N] [--user NAME:PASSWORD ...]

It prints ``READY <port>`` once it listens. What it does, as ClickHouse does:

* ``GET /ping`` and ``GET /`` answer ``Ok.``; any other path is a 404 "There is no handle …".
* The query is the ``query`` parameter, the body, or both (``query`` + newline + body: how
  INSERT data follows its statement). GET runs read-only (a write is Code 164, READONLY).
* Credentials come from ``X-ClickHouse-User``/``X-ClickHouse-Key``, HTTP Basic, or the ``user``
  and ``password`` parameters; a wrong pair is Code 516 AUTHENTICATION_FAILED (403).
* ``database``, ``default_format``, ``query_id``, ``session_id`` (with ``session_timeout`` and
  ``session_check``) and ``param_<name>`` query parameters are read; every other parameter is a
  setting for this query only (``insert_deduplication_token``, ``async_insert``, …), and an
  unknown one is Code 115 UNKNOWN_SETTING, as the engine itself says.
* A body may come in any ``Content-Encoding`` ClickHouse reads here: gzip, deflate, zstd, lz4,
  xz, bz2. With ``enable_http_compression=1`` the answer is compressed with the first of zstd, lz4,
  gzip, deflate, xz, bz2 that ``Accept-Encoding`` names (ClickHouse's order, without br/snappy).
* An error has the status ClickHouse maps its code to, ``X-ClickHouse-Exception-Code`` and the
  text ``Code: N. DB::Exception: … (NAME) (version …)``; answers carry ``X-ClickHouse-Query-Id``,
  ``-Format`` (statements with output), ``-Timezone``, ``-Summary`` and ``-Server-Display-Name``.

Not implemented (an error, or ignored where a real server may ignore it too): ClickHouse's own
compressed transport (``compress=1``/``decompress=1`` answer 501), ``client_protocol_version``
(Native output carries no block info, so a client falls back to protocol 0, as behind a proxy
that drops the parameter), multipart external data, progress headers, and refusing
multi-statement queries (chDB runs them).
"""

from __future__ import annotations

import argparse
import base64
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import anyio.to_thread
import orjson
from chdb import session as chdb_session
from tests.support.clickhouse_protocol import (
    CODE_RE,
    DECODERS,
    ENCODERS,
    FORMAT_RE,
    OUTPUT_KINDS,
    READ_KINDS,
    RESERVED,
    STATUS_BY_NAME,
    ClickHouseError,
    Reply,
    content_type,
    quote,
    statement_kind,
)


class Slot:
    """One chDB session, used by one request at a time."""

    def __init__(self, path: str) -> None:
        self.session: Any = chdb_session.Session(path)
        self.lock = threading.Lock()
        self.expires = 0.0
        self.broken = False
        self.baseline = self.changed_settings()
        self.database = self.scalar("SELECT currentDatabase()")

    def run(self, sql: str | bytes, fmt: str = "TabSeparated", params: Any = None) -> Any:
        return self.session.query(sql, fmt, params=params)

    def scalar(self, sql: str) -> str:
        return str(self.run(sql).bytes().decode().rstrip("\n"))

    def changed_settings(self) -> dict[str, str]:
        rows = self.run("SELECT name, value FROM system.settings WHERE changed", "JSONEachRow")
        return {r["name"]: r["value"] for r in map(orjson.loads, rows.bytes().splitlines())}

    def reset(self) -> None:
        """Back to the state it had when created (after a sessionless SET or USE)."""
        now = self.changed_settings()
        changes = [
            f"{name} = {quote(self.baseline[name]) if name in self.baseline else 'DEFAULT'}"
            for name, value in now.items()
            if self.baseline.get(name) != value and name != "database"
        ]
        if changes:
            self.run("SET " + ", ".join(changes))
        self.run(f"USE {self.database}")


class Engine:
    def __init__(self, path: str, users: dict[str, str]) -> None:
        self.path = path
        self.users = users
        self._lock = threading.Lock()
        self._free: list[Slot] = [Slot(path)]
        self._named: dict[str, Slot] = {}
        first = self._free[0]
        self.version, self.timezone = first.scalar("SELECT version(), timezone()").split("\t")
        rows = first.run(
            "SELECT DISTINCT name, code FROM system.errors "
            "SETTINGS system_events_show_zero_values = 1",
            "JSONEachRow",
        )
        self.codes = {
            r["name"]: int(r["code"]) for r in map(orjson.loads, rows.bytes().splitlines())
        }
        self.names = {code: name for name, code in self.codes.items()}
        self.status = {
            self.codes[n]: s for s, ns in STATUS_BY_NAME.items() for n in ns if n in self.codes
        }

    # -- errors -----------------------------------------------------------------------------
    def error(self, name: str, message: str) -> ClickHouseError:
        code = self.codes[name]
        return ClickHouseError(code, f"Code: {code}. DB::Exception: {message}. ({name})")

    def failure(self, exc: ClickHouseError) -> Reply:
        text = exc.text.rstrip()
        if "(version " not in text:
            text += f" (version {self.version} (official build))"
        return Reply(
            self.status.get(exc.code, 500),
            (text + "\n").encode(),
            {
                "Content-Type": "text/plain; charset=UTF-8",
                "X-ClickHouse-Exception-Code": str(exc.code),
            },
        )

    # -- sessions ---------------------------------------------------------------------------
    def _take(self, session_id: str, check: bool) -> Slot:
        with self._lock:
            now = time.monotonic()
            for name, slot in list(self._named.items()):
                if slot.expires < now and slot.lock.acquire(blocking=False):
                    del self._named[name]
                    slot.session.close()
            if not session_id:
                slot = self._free.pop() if self._free else None
                return slot or Slot(self.path)
            slot = self._named.get(session_id)  # type: ignore[assignment]
            if slot is None:
                if check:
                    raise self.error("SESSION_NOT_FOUND", f"Session {session_id} not found")
                slot = self._named[session_id] = Slot(self.path)
        if not slot.lock.acquire(blocking=False):
            raise self.error(
                "SESSION_IS_LOCKED", f"Session {session_id} is locked by a concurrent client"
            )
        return slot

    def _give(self, slot: Slot, session_id: str, timeout: float) -> None:
        if slot.broken:  # a session whose state could not be restored is not used again
            with self._lock:
                if self._named.get(session_id) is slot:
                    del self._named[session_id]
            slot.session.close()
        elif session_id:
            slot.expires = time.monotonic() + min(timeout, 3600)
            slot.lock.release()
        else:
            with self._lock:
                self._free.append(slot)

    # -- one request ------------------------------------------------------------------------
    def handle(
        self, method: str, path: str, query_string: str, headers: dict[str, str], body: bytes
    ) -> Reply:
        params = dict(parse_qsl(query_string, keep_blank_values=True))
        if path in ("/ping", "/") and method in ("GET", "HEAD") and "query" not in params:
            return Reply(200, b"Ok.\n", {"Content-Type": "text/html; charset=UTF-8"})
        if path != "/":
            return Reply(
                404, f"There is no handle {path}\n\nUse / or /ping for health checks.\n".encode()
            )
        try:
            self._authenticate(params, headers)
            return self._query(method, params, headers, body)
        except ClickHouseError as exc:
            return self.failure(exc)

    def _authenticate(self, params: dict[str, str], headers: dict[str, str]) -> None:
        if "x-clickhouse-user" in headers:
            user, password = headers["x-clickhouse-user"], headers.get("x-clickhouse-key", "")
        elif headers.get("authorization", "").startswith("Basic "):
            decoded = base64.b64decode(headers["authorization"][6:]).decode()
            user, _, password = decoded.partition(":")
        else:
            user, password = params.get("user", "default"), params.get("password", "")
        if self.users.get(user) != password:
            raise self.error(
                "AUTHENTICATION_FAILED",
                f"{user}: Authentication failed: password is incorrect, or there is no user "
                "with such name",
            )

    def _body(self, headers: dict[str, str], body: bytes) -> bytes:
        encoding = headers.get("content-encoding", "").strip().lower()
        if encoding in ("", "identity", "none"):
            return body
        if encoding not in DECODERS:
            raise self.error("BAD_ARGUMENTS", f"Unknown compression method '{encoding}'")
        try:
            return DECODERS[encoding](body)
        except Exception as exc:
            raise self.error(
                "CANNOT_DECOMPRESS", f"Cannot decompress {encoding} body: {exc}"
            ) from exc

    def _query(
        self, method: str, params: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Reply:
        if params.get("compress", "0") not in ("0", "") or params.get("decompress", "0") not in (
            "0",
            "",
        ):
            raise self.error(
                "NOT_IMPLEMENTED",
                "ClickHouse's compressed transport (compress, decompress) is not implemented by this test server",
            )
        sql = params.get("query", "").encode()
        data = self._body(headers, body) if method == "POST" else b""
        sql = sql + b"\n" + data if sql and data else sql or data
        kind = statement_kind(sql)
        if not kind:
            raise self.error("SYNTAX_ERROR", "Empty query")
        if method == "GET" and kind not in READ_KINDS:
            raise self.error(
                "READONLY",
                f"{params.get('user', 'default')}: Cannot execute query in readonly mode",
            )
        settings = {
            k: v for k, v in params.items() if k not in RESERVED and not k.startswith("param_")
        }
        query_params = {k[6:]: v for k, v in params.items() if k.startswith("param_")}
        session_id = params.get("session_id", "")
        try:
            timeout = float(params.get("session_timeout", "60"))
        except ValueError:
            raise self.error(
                "INVALID_SESSION_TIMEOUT", f"Invalid session timeout: '{params['session_timeout']}'"
            ) from None
        slot = self._take(session_id, params.get("session_check") == "1")
        try:
            return self._run(slot, sql, kind, params, settings, query_params, headers, session_id)
        finally:
            self._give(slot, session_id, timeout)

    def _run(
        self,
        slot: Slot,
        sql: bytes,
        kind: str,
        params: dict[str, str],
        settings: dict[str, str],
        query_params: dict[str, str],
        headers: dict[str, str],
        session_id: str,
    ) -> Reply:
        fmt = params.get("default_format", "TabSeparated")
        # A pooled slot is always in its baseline state; a named session is asked for its own.
        previous_db = slot.scalar("SELECT currentDatabase()") if session_id else slot.database
        snapshot: list[dict[str, Any]] = []
        try:
            if settings:
                if session_id:
                    names = ", ".join(map(quote, settings))
                    rows = slot.run(
                        f"SELECT name, value, changed FROM system.settings WHERE name IN ({names})",
                        "JSONEachRow",
                    )
                    snapshot = [orjson.loads(line) for line in rows.bytes().splitlines()]
                else:
                    snapshot = [
                        {
                            "name": k,
                            "value": slot.baseline.get(k, ""),
                            "changed": int(k in slot.baseline),
                        }
                        for k in settings
                    ]
                slot.run("SET " + ", ".join(f"{k} = {quote(v)}" for k, v in settings.items()))
            if params.get("database"):
                slot.run(f"USE `{params['database'].replace('`', '')}`")
            started = time.monotonic()
            result = slot.run(sql, fmt, params=query_params or None)
            elapsed = time.monotonic() - started
        except ClickHouseError:
            raise
        except Exception as exc:
            text = str(exc)
            match = CODE_RE.search(text)
            code = int(match.group(1)) if match else self.codes.get("STD_EXCEPTION", 1001)
            raise ClickHouseError(code, text[match.start() :] if match else text) from exc
        finally:
            self._restore(
                slot, snapshot, previous_db if params.get("database") else "", kind, session_id
            )
        output: bytes = result.bytes()
        format_match = FORMAT_RE.search(sql) if kind in OUTPUT_KINDS else None
        used_format = format_match.group(1).decode() if format_match else fmt
        reply_headers = {
            "Content-Type": content_type(used_format)
            if kind in OUTPUT_KINDS
            else "text/plain; charset=UTF-8",
            "X-ClickHouse-Server-Display-Name": "chdb-test-server",
            "X-ClickHouse-Query-Id": params.get("query_id") or str(uuid.uuid4()),
            "X-ClickHouse-Timezone": settings.get("session_timezone") or self.timezone,
            "X-ClickHouse-Summary": orjson.dumps(
                {
                    "read_rows": str(result.rows_read()),
                    "read_bytes": str(result.bytes_read()),
                    "written_rows": str(result.rows_written()),
                    "written_bytes": str(result.bytes_written()),
                    "total_rows_to_read": str(result.rows_read()),
                    "result_bytes": str(len(output)),
                    "elapsed_ns": str(int(elapsed * 1e9)),
                }
            ).decode(),
        }
        if kind in OUTPUT_KINDS:
            reply_headers["X-ClickHouse-Format"] = used_format
        if settings.get("enable_http_compression") in ("1", "true") and output:
            accepted = headers.get("accept-encoding", "")
            for name, encode in ENCODERS:
                if name in accepted:
                    output = encode(output)
                    reply_headers["Content-Encoding"] = name
                    break
        return Reply(200, output, reply_headers)

    def _restore(
        self,
        slot: Slot,
        snapshot: list[dict[str, Any]],
        previous_db: str,
        kind: str,
        session_id: str,
    ) -> None:
        """URL settings and ``database`` hold for one query; a sessionless SET or USE for none.
        ``previous_db`` is the database to go back to ("" when the query named none)."""
        try:
            if snapshot:
                slot.run(
                    "SET "
                    + ", ".join(
                        f"{row['name']} = {quote(row['value']) if int(row['changed']) else 'DEFAULT'}"
                        for row in snapshot
                    )
                )
            if not session_id and kind in ("SET", "USE"):
                slot.reset()
            elif kind != "USE" and previous_db:
                slot.run(f"USE `{previous_db}`")
        except Exception as exc:  # a broken slot must not be reused
            print(f"clickhouse_http: could not restore a session: {exc}", file=sys.stderr)
            slot.broken = True


def make_app(engine: Engine) -> Callable[..., Any]:
    async def app(
        scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]
    ) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        reply = await anyio.to_thread.run_sync(
            engine.handle,
            scope["method"],
            scope["path"],
            scope["query_string"].decode(),
            headers,
            b"".join(chunks),
        )
        await send(
            {
                "type": "http.response.start",
                "status": reply.status,
                "headers": [(k.encode(), v.encode()) for k, v in reply.headers.items()],
            }
        )
        await send({"type": "http.response.body", "body": reply.body})

    return app


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", required=True, help="the chDB data directory")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--user",
        action="append",
        default=[],
        help="NAME:PASSWORD (default: default with no password)",
    )
    args = parser.parse_args(argv)
    users = dict(item.partition(":")[::2] for item in args.user) or {"default": ""}
    engine = Engine(args.path, users)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    config = uvicorn.Config(make_app(engine), lifespan="off", log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    sock.listen(128)  # connections wait in the backlog until uvicorn accepts them
    print(f"READY {sock.getsockname()[1]}", flush=True)
    server.run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())

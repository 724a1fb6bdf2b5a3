"""DuckDB's export: shards of rows → Hive-partitioned Parquet files → S3, resumable at every step.

A **shard** is what the tables held when it was cut: on rotation (the rows written since the last
cut reach ``MaxShardSizeBytes``) or on schedule (every ``HealthCheckInterval`` s, once no row has
been written for ``InactivityTimeoutSeconds``). Every step is recorded in the DuckDB file itself,
so a crash resumes where it stopped:

1. **cut** (one transaction): copy each table into ``_shard_<n>_<table>``, empty it, record the
   shard as ``cut``. The rows are now frozen in the file;
2. **export**: ``COPY`` each frozen table to ``export/shard-<n>/<table>/year=Y/month=M/day=D/``
   (by the row's own date), fsync the files, record each file with its S3 key, mark the shard
   ``exported`` and drop the frozen tables (one transaction). A crash before that commit exports
   the same rows again over the same files;
3. **upload**: each recorded file not yet marked uploaded is uploaded to
   ``<S3Prefix>/<table>/year=Y/month=M/day=D/<node>_<shard>_<i>.parquet``, marked uploaded, and
   deleted locally. After a crash, a file whose object already exists with the same size is only
   marked, never uploaded twice; none is skipped, because only a recorded upload is final.

Without ``S3Bucket`` the Parquet files stay in ``export/`` (step 3 is skipped). The ``node`` is a
random id kept in the file, so keys of several trackers (and of restarts) never collide.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import duckdb
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from tracker.errors import SinkUnreachable

log = logging.getLogger(__name__)

TIME_COLUMN = {"events": "created_at", "logs": "created_at", "updates": "updated_at"}
_STATE = """
CREATE TABLE IF NOT EXISTS _tracker_state (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS _tracker_shards (shard BIGINT PRIMARY KEY, state VARCHAR, tables VARCHAR[]);
CREATE TABLE IF NOT EXISTS _tracker_files (
    shard BIGINT, path VARCHAR PRIMARY KEY, key VARCHAR, size BIGINT, uploaded BOOLEAN
);
"""


@dataclass(frozen=True)
class ExportPolicy:
    interval: float = 300.0  # HealthCheckInterval
    inactivity: float = 0.0  # InactivityTimeoutSeconds
    max_shard_bytes: int = 100 * 2**20  # MaxShardSizeBytes


@dataclass(frozen=True)
class S3Target:
    bucket: str
    prefix: str = ""
    region: str = ""
    endpoint_url: str | None = None
    access_key_id: str = ""
    secret_access_key: str = ""

    def client(self) -> Any:
        return boto3.client(
            "s3",
            region_name=self.region or None,
            endpoint_url=self.endpoint_url or None,
            aws_access_key_id=self.access_key_id or None,
            aws_secret_access_key=self.secret_access_key or None,
            config=Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 2}),
        )

    def key(self, table: str, partition: str, name: str) -> str:
        parts = [p.strip("/") for p in (self.prefix, table, partition, name) if p.strip("/")]
        return "/".join(parts)


class Exporter:
    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        directory: Path,
        policy: ExportPolicy,
        s3: S3Target | None,
        clock: Any = time.monotonic,
    ) -> None:
        self.con = con
        self.directory = directory
        self.policy = policy
        self.s3 = s3
        self.clock = clock
        self._client: Any = None
        for statement in _STATE.strip().split(";"):
            if statement.strip():
                con.execute(statement)
        self.node = self._state("node") or self._set_state("node", secrets.token_hex(6))
        self.pending_bytes = int(self._state("bytes") or 0)
        self.last_cut = clock()
        self.last_write = 0.0
        self.retry_at = 0.0
        self.failures = 0
        self.uploads = 0

    # -- state in the DuckDB file -----------------------------------------------------------
    def _state(self, key: str) -> str | None:
        found = self.con.execute("SELECT value FROM _tracker_state WHERE key = ?", [key]).fetchall()
        return str(found[0][0]) if found else None

    def _set_state(self, key: str, value: str) -> str:
        self.con.execute("INSERT OR REPLACE INTO _tracker_state VALUES (?, ?)", [key, value])
        return value

    def written(self, size: int) -> None:
        """Count a batch's bytes toward rotation (inside the batch's transaction)."""
        self.pending_bytes += size
        self._set_state("bytes", str(self.pending_bytes))

    # -- the loop's entry ---------------------------------------------------------------------
    def due(self, now: float) -> bool:
        if self.pending_bytes <= 0:
            return False
        if self.pending_bytes >= self.policy.max_shard_bytes:
            return True
        quiet = now - self.last_write >= self.policy.inactivity
        return now - self.last_cut >= self.policy.interval and quiet

    def maintain(self) -> None:
        now = self.clock()
        if self.due(now):
            self.cut()
            self.last_cut = now
        if now < self.retry_at:
            return
        try:
            self.export_cut_shards()
            self.upload_pending()
        except SinkUnreachable as exc:
            self.failures += 1
            self.retry_at = now + min(2.0 ** min(self.failures, 6), 60.0)
            log.warning("duckdb export: %s; retried in %.0f s", exc, self.retry_at - now)
            return
        self.failures = 0

    # -- 1. cut -------------------------------------------------------------------------------
    def cut(self) -> int:
        shard = int(self._state("next_shard") or 1)
        self.con.execute("BEGIN TRANSACTION")
        try:
            tables = []
            for table in TIME_COLUMN:
                if self.con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]:
                    self.con.execute(f"CREATE TABLE _shard_{shard}_{table} AS FROM {table}")
                    self.con.execute(f"DELETE FROM {table}")
                    tables.append(table)
            self.con.execute("INSERT INTO _tracker_shards VALUES (?, 'cut', ?)", [shard, tables])
            self._set_state("next_shard", str(shard + 1))
            self.pending_bytes = 0
            self._set_state("bytes", "0")
            self.con.execute(
                "DELETE FROM _tracker_batches WHERE stored_at < now() - INTERVAL 7 DAY"
            )
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            self.pending_bytes = int(self._state("bytes") or 0)
            raise
        return shard

    # -- 2. export ----------------------------------------------------------------------------
    def export_cut_shards(self) -> None:
        shards = self.con.execute(
            "SELECT shard, tables FROM _tracker_shards WHERE state = 'cut' ORDER BY shard"
        ).fetchall()
        for shard, tables in shards:
            self.export(int(shard), list(tables))

    def export(self, shard: int, tables: list[str]) -> None:
        files: list[tuple[str, str, int]] = []  # (local path, S3 key, size)
        for table in tables:
            target = self.directory / f"shard-{shard}" / table
            target.parent.mkdir(parents=True, exist_ok=True)
            column = TIME_COLUMN[table]
            try:
                self.con.execute(
                    f"COPY (SELECT *, year({column}) AS year, month({column}) AS month, "
                    f"day({column}) AS day FROM _shard_{shard}_{table}) TO '{target}' "
                    "(FORMAT parquet, PARTITION_BY (year, month, day), OVERWRITE_OR_IGNORE, "
                    "FILENAME_PATTERN 'part_{i}')"
                )
            except duckdb.Error as exc:
                raise SinkUnreachable(f"export {table} of shard {shard}: {exc}") from exc
            for path in sorted(target.rglob("*.parquet")):
                _fsync(path)
                partition = path.parent.relative_to(target).as_posix()
                name = f"{self.node}_{shard:08d}_{path.stem.removeprefix('part_')}.parquet"
                key = self.s3.key(table, partition, name) if self.s3 else ""
                files.append((str(path), key, path.stat().st_size))
        self.con.execute("BEGIN TRANSACTION")
        for local, key, size in files:
            self.con.execute(
                "INSERT OR REPLACE INTO _tracker_files VALUES (?, ?, ?, ?, false)",
                [shard, local, key, size],
            )
        for table in tables:
            self.con.execute(f"DROP TABLE IF EXISTS _shard_{shard}_{table}")
        self.con.execute("UPDATE _tracker_shards SET state = 'exported' WHERE shard = ?", [shard])
        self.con.execute("COMMIT")
        log.info("duckdb: shard %d exported to %d Parquet files", shard, len(files))

    # -- 3. upload ----------------------------------------------------------------------------
    def upload_pending(self) -> None:
        if self.s3 is None:
            return
        pending = self.con.execute(
            "SELECT path, key, size FROM _tracker_files WHERE NOT uploaded ORDER BY shard, path"
        ).fetchall()
        for file, key, size in pending:
            self.upload(Path(file), str(key), int(size))

    def upload(self, path: Path, key: str, size: int) -> None:
        assert self.s3 is not None
        if self._client is None:
            self._client = self.s3.client()
        try:
            if not self._exists(key, size):
                self._client.upload_file(str(path), self.s3.bucket, key)
                self.uploads += 1
        except (BotoCoreError, ClientError, OSError) as exc:
            raise SinkUnreachable(f"upload s3://{self.s3.bucket}/{key}: {exc}") from exc
        self.con.execute("UPDATE _tracker_files SET uploaded = true WHERE path = ?", [str(path)])
        path.unlink(missing_ok=True)

    def _exists(self, key: str, size: int) -> bool:
        """Whether a crash came after the upload and before it was recorded."""
        assert self.s3 is not None
        try:
            head = self._client.head_object(Bucket=self.s3.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return int(head.get("ContentLength", -1)) == size


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

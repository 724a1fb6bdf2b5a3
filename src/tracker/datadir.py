"""The data directory: who owns it, and the files the tracker keeps there.

chDB lets one process open a data path. The running server holds an exclusive ``flock`` on
``tracker.lock`` (holding its PID), so a second process gets a clear error instead of chDB's own,
and ``tracker query`` knows to go through the server's control socket instead.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from tracker.errors import DataDirInUse, DataDirUnusable


@dataclass(frozen=True)
class DataDir:
    root: Path

    @property
    def clickhouse(self) -> Path:
        return self.root / "clickhouse"

    @property
    def lock_file(self) -> Path:
        return self.root / "tracker.lock"

    @property
    def control_socket(self) -> Path:
        return self.root / "tracker.sock"

    @property
    def secret_file(self) -> Path:
        return self.root / "ip-hash.key"

    def create(self) -> None:
        """Make the directory (and its parents) unless it exists; `DataDirUnusable` says why
        when that cannot be done."""
        root = self.root
        try:
            root.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise DataDirUnusable(
                f"The data directory {root} is a file: expected a directory (--data-dir or DataDir)."
            ) from None
        except OSError as exc:
            raise DataDirUnusable(
                f"The data directory {root} cannot be created: {exc.strerror} "
                f"({exc.filename or root})."
            ) from None
        if not os.access(root, os.W_OK | os.X_OK):
            raise DataDirUnusable(
                f"The data directory {root} is not writable by this user (uid {os.getuid()})."
            )

    def require_store(self) -> None:
        """Raise `DataDirUnusable` unless the directory holds an embedded store to read."""
        if self.root.exists() and not self.root.is_dir():
            raise DataDirUnusable(
                f"The data directory {self.root} is a file: expected a directory "
                "(--data-dir or DataDir)."
            )
        if not self.clickhouse.is_dir():
            where = "does not exist" if not self.root.exists() else "holds no store"
            raise DataDirUnusable(
                f"The data directory {self.root} {where}: expected the --data-dir (or DataDir) "
                "of a tracker. `tracker serve` and `tracker schema load` create one."
            )

    def owner_pid(self) -> int | None:
        """The PID of the live process holding the directory, or None when it is free."""
        if not self.lock_file.exists():
            return None
        with open(self.lock_file, "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                text = handle.read().strip()
                return int(text) if text.isdigit() else -1
            fcntl.flock(handle, fcntl.LOCK_UN)
            return None

    @property
    def dashboard_key_file(self) -> Path:
        return self.root / "dashboard.key"

    def ip_secret(self) -> bytes:
        """The IP-hash key kept in the directory, made on first use (mode 0600)."""
        return self._key(self.secret_file)

    def dashboard_key(self) -> bytes:
        """The key that signs dashboard login cookies, made on first use (mode 0600)."""
        return self._key(self.dashboard_key_file)

    def _key(self, path: Path) -> bytes:
        self.create()
        try:
            return bytes.fromhex(path.read_text().strip())
        except FileNotFoundError:
            key = secrets.token_bytes(32)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(key.hex())
            return key


class DirLock:
    """An exclusive lock on a data directory for the life of this process."""

    def __init__(self, data_dir: DataDir) -> None:
        self.data_dir = data_dir
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        self.data_dir.create()
        handle = open(self.data_dir.lock_file, "a+")  # noqa: SIM115 - held until release()
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            pid = handle.read().strip() or "?"
            handle.close()
            raise DataDirInUse(
                f"The data directory {self.data_dir.root} is in use by tracker PID {pid}."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            with contextlib.suppress(OSError):
                self._handle.seek(0)
                self._handle.truncate()
                fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None

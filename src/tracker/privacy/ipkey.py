"""``tracker ip-key rotate``: replace the generated key of the IP hash (``iphash``).

``iphash`` is HMAC-SHA256 of the address under a key: ``IPHashSecret`` from the config, else the
key the tracker generated in ``<DataDir>/ip-hash.key``. Rotating writes a new random key there
and keeps the old one beside it as ``ip-hash.key.<UTC time>`` (mode 0600, for the record; delete
it to make the old hashes unlinkable for good). The server reads the key at start-up, so a
rotation takes effect at the next start.

What it means for the data: an address hashes to a different ``iphash`` after the rotation, so
rows from before and after do not join on ``iphash`` (the same visitor's address looks like two
addresses; counts of distinct addresses across the rotation are too high). That is the point: a
hash that never changes is a stable pseudonym of the address.
"""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime
from pathlib import Path

from tracker.datadir import DataDir

__all__ = ["rotate_ip_key"]


def _write_key(path: Path) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_bytes(32).hex())
        out.flush()
        os.fsync(out.fileno())


def rotate_ip_key(data_dir: DataDir, now: datetime | None = None) -> Path | None:
    """Put a new key in place; return where the old one was kept (None when there was none)."""
    data_dir.root.mkdir(parents=True, exist_ok=True)
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    fresh = data_dir.secret_file.with_name(f"ip-hash.key.new-{secrets.token_hex(4)}")
    _write_key(fresh)
    kept: Path | None = None
    if data_dir.secret_file.exists():
        kept = data_dir.secret_file.with_name(f"ip-hash.key.{stamp}")
        n = 1
        while kept.exists():
            n += 1
            kept = data_dir.secret_file.with_name(f"ip-hash.key.{stamp}-{n}")
        os.link(data_dir.secret_file, kept)  # the old key stays readable until the swap
    fresh.replace(data_dir.secret_file)  # atomic: a reader sees the old key or the new one
    return kept

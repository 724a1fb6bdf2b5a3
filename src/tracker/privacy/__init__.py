"""Privacy operations on the store: prune, retention, forgetting a person, IP-key rotation.

    store.py      Store: SQL in, rows out, through one query function (local chDB, the control
                  socket of a running server, or the server's own sink)
    prune_sql.py  a `Prune[]` rule of config.json as ClickHouse SQL
    prune.py      prune(): the rules and log expiry, partition by partition, resumable
    retention.py  apply_retention(): `DataRetentionDays` as table TTLs, at start-up
    forget.py     forget(): every row of a visitor or user, from every table that holds them
    ipkey.py      rotate_ip_key(): a new generated key for `iphash`

The commands that run them are in `tracker.cli.privacy`. Consent (which events are stored at all)
is decided while normalising (`tracker.normalise.event`, step 6; docs/privacy.md).
"""

from tracker.privacy.forget import ForgetReport, forget, person_tables
from tracker.privacy.ipkey import rotate_ip_key
from tracker.privacy.prune import PruneReport, prune
from tracker.privacy.retention import apply_retention
from tracker.privacy.store import Store

__all__ = [
    "ForgetReport",
    "PruneReport",
    "Store",
    "apply_retention",
    "forget",
    "person_tables",
    "prune",
    "rotate_ip_key",
]

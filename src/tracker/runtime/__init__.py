"""The running service, below the sources that feed it (HTTP, WebSocket, a broker consumer).

runtime.py   Runtime: settings → store, spool, writer, ingest, metrics; start-up and shutdown
ingest.py    Ingest: the one way a source records events (normalise, plan, spool, count)
policies.py  each table's batch policy from the defaults and config.json
"""

from tracker.runtime.ingest import (
    RECORDING_METHODS,
    Arrival,
    Identity,
    Ingest,
    Refusal,
    Source,
    Tracked,
    identity,
)
from tracker.runtime.runtime import Runtime

__all__ = [
    "RECORDING_METHODS",
    "Arrival",
    "Identity",
    "Ingest",
    "Refusal",
    "Runtime",
    "Source",
    "Tracked",
    "identity",
]

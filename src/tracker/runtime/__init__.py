"""The running service, below the sources that feed it (HTTP, WebSocket, a broker consumer).

runtime.py   Runtime: settings → store, spool, writer, ingest, metrics; start-up and shutdown
ingest.py    Ingest: the one way a source records events (normalise, plan, spool, count)
policies.py  each table's batch policy from the defaults and config.json
owner.py     the store owner's writers of the worker spools, and what it answers the workers
workers.py   WorkerRuntime: an HTTP worker's own spool, the store through the owner (Workers > 1)
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
from tracker.runtime.workers import WorkerRuntime

__all__ = [
    "RECORDING_METHODS",
    "Arrival",
    "Identity",
    "Ingest",
    "Refusal",
    "Runtime",
    "Source",
    "Tracked",
    "WorkerRuntime",
    "identity",
]

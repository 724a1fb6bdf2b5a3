"""Exceptions of the tracker, each carrying the HTTP status it maps to.

    TrackerError (500)                base; raised itself only for a bug of ours
    ├── BadRequest (400)              the client sent something we cannot use
    │   ├── InvalidJson (400)         the body is not JSON
    │   └── InvalidEvent (400)        JSON, but not an event (wrong shape or types)
    ├── Unauthorized (401)            missing or wrong credentials
    ├── Forbidden (403)               known, but not allowed (a cross-site form, a read-only link)
    ├── NotFound (404)                no route, file, short link or record here
    ├── MethodNotAllowed (405)        the route does not take this method
    ├── PayloadTooLarge (413)         body over MaxBodyBytes
    ├── TooManyRequests (429)         too many tries (logins); carries Retry-After
    ├── Unavailable (503)             we cannot take the event now; carries Retry-After
    │   └── SpoolFailed (503)         the disk refused the spool's write or sync
    ├── ConfigError                   (tracker.config) a bad config.json / env / flag value
    └── SinkError                     a sink failed; raised at the sink seam, translated from
        ├── SinkRejected              the database refused the rows (bad data: never retried)
        └── SinkUnreachable           network / server trouble (retried)
            └── SinkMisconfigured     the store answered and refuses us (credentials, grants, an
                                      unknown cluster): retried too, but an operator must act
    DataDirInUse                      another process owns the data directory
    ListenError                       a listener's port cannot be bound (taken, privileged)
    DataDirUnusable                   the data directory cannot be created, or is no directory

One function (`tracker.http.responses.render_error`) renders every `TrackerError` as
`{"ok": false, "error": "...", "status": N}`.
"""

from __future__ import annotations


class TrackerError(Exception):
    status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(TrackerError):
    status = 400


class InvalidJson(BadRequest):
    pass


class InvalidEvent(BadRequest):
    pass


class Unauthorized(TrackerError):
    """Missing or wrong credentials; the message never says which."""

    status = 401


class Forbidden(TrackerError):
    status = 403


class NotFound(TrackerError):
    status = 404


class MethodNotAllowed(TrackerError):
    status = 405


class PayloadTooLarge(TrackerError):
    status = 413


class TooManyRequests(TrackerError):
    status = 429

    def __init__(self, message: str, retry_after: int = 60) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(TrackerError):
    status = 503

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SpoolFailed(Unavailable):
    """The disk refused the spool's write or sync: nothing is accepted until a restart."""


class SinkError(TrackerError):
    """A sink could not write a batch."""


class SinkRejected(SinkError):
    """The database refused the data itself; retrying the same rows cannot help."""

    status = 422


class SinkUnreachable(SinkError):
    """The database could not be reached or failed transiently; worth a retry.

    ``retry_after``: seconds the backend asked us to wait (a 429's Retry-After), a floor of the
    writer's backoff.
    """

    status = 503

    def __init__(self, message: str, retry_after: float = 0.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SinkMisconfigured(SinkUnreachable):
    """The store answered but refuses the tracker: wrong credentials, missing grants, a read-only
    user, an unknown cluster, or DDL the server cannot run. At start-up this stops the tracker;
    later it is retried like an outage (the spool keeps the events) and logged as an error."""


class DataDirInUse(TrackerError):
    """Another live process holds the data directory (chDB allows one owner)."""


class ListenError(TrackerError):
    """A listener's address cannot be bound: the port is taken or needs privileges."""


class DataDirUnusable(TrackerError):
    """The data directory cannot be created or used (a file, no permission, a missing store)."""

"""Static files under `/tr/v{N}/pub/` from `StaticDirectory`.

Every GET, POST and PUT is tracked first, as a client event (the Go tracker made it a server event
after 2025-06, losing the visitor's cookies; docs/differences.md): the vid and sid cookies are set, and no `url` is recorded
because the request URI is one of our own routes. A tracking failure (a full spool, a bad `acct`)
is counted in `/metrics` and never keeps the file from being served.

Files are served by Starlette's `FileResponse`: content type from the extension, `ETag`,
`Last-Modified`, conditional requests (304) and `Range` (206/416), plus `Cache-Control: no-cache`
so browsers revalidate (cheaply, with the ETag) and each fetch is still seen. Unlike Go's
FileServer: no directory listings (a directory without `index.html` is a 404), paths that leave the
directory (`..`, symlinks pointing outside) are refused with 404, errors are the JSON error shape,
methods other than GET, HEAD, POST and PUT get 405, and an empty `StaticDirectory` means `public`
in the working directory, not the working directory itself (which would publish config.json).
A missing directory answers 404; it is looked up again on every request.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import anyio.to_thread
from starlette.datastructures import Headers as StarletteHeaders
from starlette.responses import FileResponse, Response
from starlette.staticfiles import NotModifiedResponse, StaticFiles

from tracker.errors import NotFound, TrackerError
from tracker.http.request import Receive, Scope, Send, from_scope
from tracker.http.responses import Headers, error_body, identity_cookies, respond, respond_error
from tracker.http.site import Site
from tracker.normalise.request import RawRequest
from tracker.runtime import RECORDING_METHODS, Identity, Source, identity

PUB_SOURCE = Source("/pub/", is_server=False)
SERVED_METHODS = frozenset({"GET", "HEAD", "POST", "PUT"})
DEFAULT_DIRECTORY = "public"
CACHE_CONTROL = "no-cache"


class PublicFiles(StaticFiles):
    """Starlette's static files without its HTML mode's 404.html and absolute redirects."""

    async def find(self, path: str, scope: Scope) -> Response:
        """The response for `path` (relative to the directory); raises NotFound."""
        try:
            full_path, found = await anyio.to_thread.run_sync(self.lookup_path, path)
        except (OSError, ValueError) as exc:  # a name too long, a NUL byte, no permission
            raise NotFound(f"Nothing at {scope['path']}.") from exc
        if found is not None and stat.S_ISDIR(found.st_mode):
            index = os.path.join(path, "index.html")
            full_path, found = await anyio.to_thread.run_sync(self.lookup_path, index)
            if found is not None and not scope["path"].endswith("/"):
                # Relative, so it stays on the host and scheme the client used.
                name = scope["path"].rsplit("/", 1)[-1]
                return Response(status_code=301, headers={"location": f"{name}/"})
        if found is None or not stat.S_ISREG(found.st_mode):
            raise NotFound(f"Nothing at {scope['path']}.")
        return self.file_response(full_path, found, scope)

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = FileResponse(full_path, status_code=status_code, stat_result=stat_result)
        response.headers["cache-control"] = CACHE_CONTROL
        if self.is_not_modified(response.headers, StarletteHeaders(scope=scope)):
            return NotModifiedResponse(response.headers)
        return response


class StaticEndpoint:
    def __init__(self, site: Site) -> None:
        self.site = site
        self.root_path = f"{site.prefix}/pub"
        directory = Path(site.settings.static_directory or DEFAULT_DIRECTORY)
        self.directory = directory.absolute()  # relative to the working directory at start-up
        self.files = PublicFiles(directory=self.directory, check_dir=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        req = from_scope(scope)
        headers: Headers = list(self.site.cors.headers(req.headers.get("origin")))
        if req.method in RECORDING_METHODS:
            headers.extend(
                identity_cookies(await self.track(req), secure=self.site.ingest.secure(req))
            )
        if req.method not in SERVED_METHODS:
            body = error_body(405, "Method not allowed: use GET or HEAD.")
            allow = (b"allow", b"GET, HEAD, POST, PUT")
            await respond(send, 405, body, [*headers, allow], b"application/json")
            return
        # POST and PUT are served like GET (as Go's FileServer does); HEAD sends no body.
        file_scope = {**scope, "root_path": self.root_path}
        if req.method != "HEAD":
            file_scope["method"] = "GET"
        try:
            if not self.directory.is_dir():
                raise NotFound(f"Nothing at {req.path}.")
            response = await self.files.find(self.files.get_path(file_scope), file_scope)
        except NotFound as exc:
            await respond_error(send, exc, headers)
            return
        response.raw_headers.extend(headers)
        await response(file_scope, receive, send)

    async def track(self, req: RawRequest) -> Identity | None:
        """Track the fetch; a failure (counted) never keeps the file from being served."""
        ingest = self.site.ingest
        try:
            return identity((await ingest.track(ingest.arrive(req, PUB_SOURCE))).events)
        except TrackerError:
            return None

"""`Site`: what every HTTP route shares, the running service plus what HTTP adds to it."""

from __future__ import annotations

from dataclasses import dataclass

from tracker.config import Settings
from tracker.http.responses import Cors, Headers
from tracker.metrics import Metrics
from tracker.runtime import Ingest, Runtime, WorkerRuntime


@dataclass(frozen=True)
class Site:
    rt: Runtime | WorkerRuntime  # a worker's when `Workers` > 1 (docs/workers.md)
    cors: Cors
    prefix: str  # the tracking routes' prefix without its slash: /tr/v1

    @classmethod
    def of(cls, rt: Runtime | WorkerRuntime) -> Site:
        settings = rt.settings
        return cls(rt, Cors(settings.allow_origin), f"/tr/v{settings.api_version}")

    @property
    def settings(self) -> Settings:
        return self.rt.settings

    @property
    def ingest(self) -> Ingest:
        return self.rt.ingest

    @property
    def metrics(self) -> Metrics:
        return self.rt.metrics

    @property
    def max_body_bytes(self) -> int:
        return self.rt.settings.max_body_bytes

    def cors_headers(self, origin: str | None) -> Headers:
        return self.cors.headers(origin)

"""What consent allows: storing an event (analytics) and sending it to marketing sinks.

The bits of ``cflags`` are the integrator's to name (http-api.md §2.10); config says which bits
mean what, and every decision is a bit test (``tracker.normalise.consent``), never the Go
tracker's numeric ``cflags >= CFlagsMarketing`` (§9 item 27):

* ``CFlagsAnalytics`` (ours; 0 = off): an event is stored only when its ``cflags`` hold **all**
  of these bits. Events without them, or without ``cflags`` at all, are answered as usual but
  not stored anywhere (no row in ``events`` or any table planned from the event, no ``vid``
  cookie), and counted in ``/metrics`` as dropped with reason ``no_consent``. The decision is
  taken before enrichment: a refused event gets no GeoIP lookup, user-agent parsing or hashes.
  Consent records (``/ppi/agree``) and payments (``/ltv/``) are not events and are not gated.
* ``CFlagsMarketing``: an event may go to a marketing sink (Facebook) only when its ``cflags``
  hold all of these bits. ``CFlagsIgnore`` lets events **without** ``cflags`` through; an event
  that carries ``cflags`` always needs the bits (a mask of 0 asks for none). Without
  ``CFlagsIgnore`` an event without ``cflags`` is never sent, as in the Go tracker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from tracker.normalise.consent import has_all

__all__ = ["ConsentPolicy", "allows_analytics", "allows_marketing"]


class ConsentSettings(Protocol):
    """The part of `tracker.config.Settings` consent reads."""

    @property
    def cflags_analytics(self) -> int: ...

    @property
    def cflags_marketing(self) -> int: ...

    @property
    def cflags_ignore(self) -> bool: ...


@dataclass(frozen=True)
class ConsentPolicy:
    analytics: int = 0  # CFlagsAnalytics
    marketing: int = 0  # CFlagsMarketing
    send_without_cflags: bool = False  # CFlagsIgnore

    @classmethod
    def from_settings(cls, settings: ConsentSettings) -> ConsentPolicy:
        return cls(settings.cflags_analytics, settings.cflags_marketing, settings.cflags_ignore)

    def allows_analytics(self, cflags: int | None) -> bool:
        """Whether an event with these ``cflags`` (None: absent) may be stored."""
        return has_all(cflags, self.analytics)

    def allows_marketing(self, cflags: int | None) -> bool:
        """Whether an event with these ``cflags`` (None: absent) may go to a marketing sink."""
        if cflags is None:
            return self.send_without_cflags
        return has_all(cflags, self.marketing)


def allows_analytics(cflags: int | None, settings: ConsentSettings) -> bool:
    return ConsentPolicy.from_settings(settings).allows_analytics(cflags)


def allows_marketing(cflags: int | None, settings: ConsentSettings) -> bool:
    return ConsentPolicy.from_settings(settings).allows_marketing(cflags)

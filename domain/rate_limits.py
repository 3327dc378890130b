"""Rate limits on actions anyone can repeat cheaply but that cost the server (an argon2
hash, an e-mail, a booking) or leak information (tracking unknown waybills).

Each limit is a fixed window that starts at its first hit: at most `count` hits until
the window ends, then a fresh one. One action takes a hit from every bucket it counts in
(its account, its client address), all or none, so a refused action uses up nothing.
Windows are fixed here; operators tune the counts (infra/settings.py). The caller
passes `now`.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from math import ceil

REGISTRATION_WINDOW = timedelta(hours=1)
BOOKING_WINDOW = timedelta(minutes=1)
PASSWORD_RESET_WINDOW = timedelta(hours=1)
TRACKING_MISS_WINDOW = timedelta(minutes=15)


@dataclass(frozen=True)
class Limit:
    count: int
    window: timedelta


@dataclass(frozen=True)
class Window:
    """Hits taken in the window that began with the first of them."""

    hits: int = 0
    started_at: datetime | None = None

    def ends_at(self, limit: Limit) -> datetime | None:
        return None if self.started_at is None else self.started_at + limit.window


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after_s: int  # whole seconds until the fullest refusing window ends; 0 if allowed
    windows: tuple[Window, ...]  # what to store, in the order given


def live(window: Window, limit: Limit, now: datetime) -> Window:
    """The window as it stands at `now`: empty once it has ended."""
    ends = window.ends_at(limit)
    return Window() if ends is None or now >= ends else window


def take(buckets: Sequence[tuple[Window, Limit]], now: datetime, hits: int = 1) -> Decision:
    """Take `hits` from every bucket, or from none when one of them has too few left."""
    current = [(live(w, limit, now), limit) for w, limit in buckets]
    waits = [_seconds_left(w, limit, now) for w, limit in current if w.hits + hits > limit.count]
    if waits:
        return Decision(False, max(waits), tuple(w for w, _ in current))
    taken = tuple(Window(w.hits + hits, w.started_at or now) for w, _ in current)
    return Decision(True, 0, taken)


def _seconds_left(window: Window, limit: Limit, now: datetime) -> int:
    ends = window.ends_at(limit) or now + limit.window  # a window never started: a full one
    return max(1, ceil((ends - now).total_seconds()))

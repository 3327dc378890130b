"""What every application's commands share: the read-your-writes token and retries."""

import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar
from uuid import UUID

from eventsourcing.persistence import RecordConflictError, Recording

from domain.errors import Conflict

T = TypeVar("T")
MAX_ATTEMPTS = 30


@dataclass(frozen=True)
class Written:
    """Where each written aggregate's last event landed: the read-your-writes token."""

    positions: tuple[tuple[UUID, int], ...]

    @classmethod
    def of(cls, recordings: Sequence[Recording[UUID]]) -> "Written":
        last: dict[UUID, int] = {}
        for recording in recordings:
            last[recording.domain_event.originator_id] = recording.notification.id
        return cls(tuple(last.items()))


def retry_on_conflict(attempt: Callable[[], T]) -> T:
    """Re-run a load-decide-save cycle when a concurrent writer got there first."""
    for tries in range(MAX_ATTEMPTS):
        try:
            return attempt()
        except RecordConflictError:
            time.sleep(0.001 * secrets.randbelow(5 * (tries + 1)))
    raise Conflict("Too much contention; try again.", code="contention")

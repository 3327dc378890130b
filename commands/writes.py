"""What every application's commands share: the read-your-writes token and retries."""

import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar, runtime_checkable
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
    def of(
        cls, recordings: Sequence[Recording[UUID]], earlier: dict[UUID, int] | None = None
    ) -> "Written":
        """What these recordings wrote, and where `earlier` commands left other aggregates."""
        last = dict(earlier or {})
        for recording in recordings:
            last[recording.domain_event.originator_id] = recording.notification.id
        return cls(tuple(last.items()))


@runtime_checkable
class KnowsPositions(Protocol):
    def last_notification_ids(self, originator_ids: Sequence[UUID]) -> dict[UUID, int]: ...


def already_written(recorder: object, aggregate_ids: Sequence[UUID]) -> dict[UUID, int]:
    """Where earlier commands left these aggregates, so a retried command's token covers
    what the first attempt wrote. The in-memory recorder of unit tests keeps no such
    index; there every write is visible at once anyway."""
    if not aggregate_ids or not isinstance(recorder, KnowsPositions):
        return {}
    return recorder.last_notification_ids(aggregate_ids)


def retry_on_conflict(attempt: Callable[[], T]) -> T:
    """Re-run a load-decide-save cycle when a concurrent writer got there first."""
    for tries in range(MAX_ATTEMPTS):
        try:
            return attempt()
        except RecordConflictError:
            time.sleep(0.001 * secrets.randbelow(5 * (tries + 1)))
    raise Conflict("Too much contention; try again.", code="contention")

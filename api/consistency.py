"""Read-your-writes: wait (bounded) until a read model has applied a consistency token.

Waiting holds a worker thread, so only a few requests may wait at once, and only a couple
per client (a signed-in account, or the address of a public read); past that, a lagging
read answers at once (503, or 429 to the client holding its share) instead of starving
scans and bookings of threads. A token may name only the partitions that exist (400
otherwise): a made-up one would never be reached.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Query
from psycopg_pool import ConnectionPool

from api.errors import ReadModelLagging
from commands.container import Container
from commands.wait_slots import WaitSlots
from domain.errors import Malformed, RuleViolation, TooManyAttempts
from infra.messaging.kafka import topic_for
from infra.messaging.partitioning import parse_token


@dataclass(frozen=True)
class ReadModelWatch:
    pool: ConnectionPool
    topic: str
    read_positions: Callable[[Any, str], dict[int, int]]
    waiters: WaitSlots
    max_wait_s: float
    partitions: int
    context: str = "shipments"

    def wait_for(self, token: str, newest_notification_id: Callable[[], int], client: str) -> None:
        """Return once every partition in the token is applied; else ReadModelLagging.
        The event store is asked for its newest id only when the token is not yet reached."""
        wanted = _parse(token, self.context)
        if any(p >= self.partitions for p in wanted):
            raise Malformed(
                f"A consistency token names partitions 0 to {self.partitions - 1} only.",
                code="unknown_partition",
            )
        if self._reached(wanted):
            return
        if any(n > newest_notification_id() for n in wanted.values()):
            raise _unknown_token()
        self._take_slot(client)
        try:
            deadline = time.monotonic() + self.max_wait_s
            while time.monotonic() < deadline:
                time.sleep(0.01)
                if self._reached(wanted):
                    return
            raise ReadModelLagging
        finally:
            self.waiters.release(client)

    def _take_slot(self, client: str) -> None:
        refused = self.waiters.acquire(client)
        if refused == "client":
            raise TooManyAttempts(
                "Too many reads from here are already waiting; retry shortly.",
                retry_after_s=1,
                code="too_many_waits",
            )
        if refused is not None:
            raise ReadModelLagging

    def _reached(self, wanted: dict[int, int]) -> bool:
        with self.pool.connection() as conn:
            applied = self.read_positions(conn, self.topic)
        return all(applied.get(p, 0) >= n for p, n in wanted.items())


def _parse(token: str, expected_context: str) -> dict[int, int]:
    try:
        context, wanted = parse_token(token)
    except ValueError:
        raise RuleViolation(
            "Malformed consistency token.", code="invalid_consistency_token"
        ) from None
    if context != expected_context:
        raise _unknown_token()
    return wanted


def _unknown_token() -> RuleViolation:
    return RuleViolation("Unknown consistency token.", code="invalid_consistency_token")


Token = Annotated[
    str | None,
    Query(max_length=20_000, description="From a command's answer: wait until it is visible."),
]


def wait_for(
    container: Container,
    context: str,
    read_positions: Callable[[Any, str], dict[int, int]],
    token: str,
    client: str,
) -> None:
    """Wait (bounded) until the read model of `context` has applied `token`; `client` is
    whose share of the wait slots it takes (an account's actor, or a client address)."""
    app = {a.name: a for a in container.applications}[context]
    ReadModelWatch(
        container.pool,
        topic_for(container.settings, context),
        read_positions,
        container.consistency_waiters,
        container.settings.consistency_wait_max_s,
        container.settings.kafka_partitions,
        context,
    ).wait_for(token, lambda: app.recorder.max_notification_id() or 0, client)

"""Read-your-writes: wait (bounded) until a read model has applied a consistency token."""

import time
from collections.abc import Callable

from psycopg_pool import ConnectionPool

from api.errors import ReadModelLagging
from domain.errors import RuleViolation
from infra.partitioning import parse_token


def wait_for_token(
    pool: ConnectionPool,
    topic: str,
    token: str,
    read_positions: Callable[..., dict[int, int]],
    newest_notification_id: int,
    max_wait_s: float,
) -> None:
    """Return once every partition in the token is applied; ReadModelLagging after max_wait_s."""
    try:
        context, wanted = parse_token(token)
    except ValueError:
        raise RuleViolation(
            "Malformed consistency token.", code="invalid_consistency_token"
        ) from None
    if context != "shipments" or any(n > newest_notification_id for n in wanted.values()):
        raise RuleViolation("Unknown consistency token.", code="invalid_consistency_token")
    deadline = time.monotonic() + max_wait_s
    while True:
        with pool.connection() as conn:
            applied = read_positions(conn, topic)
        if all(applied.get(p, 0) >= n for p, n in wanted.items()):
            return
        if time.monotonic() >= deadline:
            raise ReadModelLagging
        time.sleep(0.01)

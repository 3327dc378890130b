"""The windows of domain.rate_limits in PostgreSQL, one row per bucket, shared by every
API process.

An action's rows are locked in one transaction, always in bucket-id order, so concurrent
actions are counted one after another (a limit cannot be overrun, whichever process
serves them) and two transactions never wait on each other.
"""

import itertools
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from psycopg import Connection
from psycopg_pool import ConnectionPool

from domain.rate_limits import Decision, Limit, Window, take

__all__ = ["DDL", "RateBuckets"]

DDL: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS rate_buckets (
        bucket text PRIMARY KEY,
        hits integer NOT NULL DEFAULT 0,
        window_started_at timestamptz,
        window_ends_at timestamptz
    )""",
    "CREATE INDEX IF NOT EXISTS rate_buckets_ends ON rate_buckets (window_ends_at)",
)

PURGE_EVERY = 1000  # actions per process between purges of ended windows

# The no-op update makes the upsert lock the row when it already exists.
_LOCK_ROW = """INSERT INTO rate_buckets (bucket) VALUES (%s)
    ON CONFLICT (bucket) DO UPDATE SET hits = rate_buckets.hits
    RETURNING hits, window_started_at"""
_STORE_ROW = """UPDATE rate_buckets SET hits = %s, window_started_at = %s, window_ends_at = %s
    WHERE bucket = %s"""


class RateBuckets:
    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool
        self._actions = itertools.count(1)

    def take(self, limits: Mapping[str, Limit], now: datetime, hits: int = 1) -> Decision:
        """Take `hits` from every named bucket, or none (domain.rate_limits.take)."""
        names = sorted(limits)
        with self._pool.connection() as conn, conn.transaction():
            buckets = [(_lock(conn, name), limits[name]) for name in names]
            decision = take(buckets, now, hits)
            if decision.allowed:
                _store(conn, names, decision.windows, limits)
        if next(self._actions) % PURGE_EVERY == 0:
            self.purge(now)
        return decision

    def purge(self, now: datetime) -> int:
        """Delete the rows of ended windows, so the table does not keep every address seen."""
        with self._pool.connection() as conn:
            deleted = conn.execute(
                "DELETE FROM rate_buckets WHERE window_ends_at IS NULL OR window_ends_at <= %s",
                (now,),
            )
            return deleted.rowcount


def _lock(conn: Connection[Any], name: str) -> Window:
    row = conn.execute(_LOCK_ROW, (name,)).fetchone()
    assert row is not None  # an upsert with RETURNING always returns its row
    return Window(hits=row[0], started_at=row[1])


def _store(
    conn: Connection[Any],
    names: list[str],
    windows: tuple[Window, ...],
    limits: Mapping[str, Limit],
) -> None:
    rows = [
        (w.hits, w.started_at, w.ends_at(limits[n]), n) for n, w in zip(names, windows, strict=True)
    ]
    with conn.cursor() as cur:
        cur.executemany(_STORE_ROW, rows)

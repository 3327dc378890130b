"""The login buckets of domain.login_policy in PostgreSQL, one row each.

An attempt's rows are locked in one transaction, always in bucket-id order, so concurrent
attempts on an account or from an address are counted one after another (a cap cannot be
overrun) and two transactions never wait on each other.
"""

import hashlib
import itertools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import Connection
from psycopg_pool import ConnectionPool

from domain.login_policy import (
    ACCOUNT,
    CLIENT,
    HOUR,
    Attempt,
    Bucket,
    Verdict,
    decide,
    forgive,
    withdraw,
)

__all__ = ["DDL", "LoginThrottle", "Verdict"]

DDL: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS login_buckets (
        bucket text PRIMARY KEY,
        account_key text,
        failures integer NOT NULL DEFAULT 0,
        window_started_at timestamptz
    )""",
    "CREATE INDEX IF NOT EXISTS login_buckets_account ON login_buckets (account_key)",
)

PURGE_EVERY = 1000  # attempts per process between purges of ended buckets

# The no-op update makes the upsert lock the row when it already exists.
_LOCK_ROW = """INSERT INTO login_buckets (bucket, account_key) VALUES (%s, %s)
    ON CONFLICT (bucket) DO UPDATE SET failures = login_buckets.failures
    RETURNING failures, window_started_at"""
_STORE_ROW = "UPDATE login_buckets SET failures = %s, window_started_at = %s WHERE bucket = %s"


@dataclass(frozen=True)
class _Rows:
    """The bucket ids of one attempt."""

    account_key: str
    own: str
    client: str
    hour: str
    trusted: bool


def _rows(account_key: str, client: str, device_key: str | None) -> _Rows:
    own = f"untrusted:{account_key}" if device_key is None else f"device:{account_key}:{device_key}"
    # Hashed only to keep addresses out of plain sight in the table; not a secret.
    address = hashlib.sha256(client.encode()).hexdigest()
    return _Rows(
        account_key, own, f"client:{address}", f"hour:{account_key}", device_key is not None
    )


def _lock(conn: Connection[Any], rows: _Rows) -> Attempt:
    owners = {rows.own: rows.account_key, rows.client: None, rows.hour: rows.account_key}
    buckets: dict[str, Bucket] = {}
    for bucket_id in sorted(owners):
        row = conn.execute(_LOCK_ROW, (bucket_id, owners[bucket_id])).fetchone()
        assert row is not None  # an upsert with RETURNING always returns its row
        buckets[bucket_id] = Bucket(failures=row[0], window_started_at=row[1])
    return Attempt(
        own=buckets[rows.own],
        client=buckets[rows.client],
        hour=buckets[rows.hour],
        trusted=rows.trusted,
    )


def _store(conn: Connection[Any], rows: _Rows, attempt: Attempt) -> None:
    pairs = ((rows.own, attempt.own), (rows.client, attempt.client), (rows.hour, attempt.hour))
    with conn.cursor() as cur:
        cur.executemany(
            _STORE_ROW, [(b.failures, b.window_started_at, bucket_id) for bucket_id, b in pairs]
        )


class LoginThrottle:
    """Counts login failures per account, trusted device, client address and account hour."""

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool
        self._attempts = itertools.count(1)

    def begin(
        self, *, account_key: str, client: str, device_key: str | None, now: datetime
    ) -> Verdict:
        """Decide on an attempt before its password is checked; if allowed, count it a failure."""
        rows = _rows(account_key, client, device_key)
        with self._pool.connection() as conn, conn.transaction():
            verdict, counted = decide(_lock(conn, rows), now)
            if verdict.allowed:
                _store(conn, rows, counted)
        if next(self._attempts) % PURGE_EVERY == 0:
            self.purge(now)
        return verdict

    def purge(self, now: datetime) -> int:
        """Delete buckets whose windows have all ended (they count nothing any more), so the
        table does not keep one row per address ever seen."""
        with self._pool.connection() as conn:
            deleted = conn.execute(
                """DELETE FROM login_buckets
                   WHERE window_started_at IS NULL OR window_started_at < %s""",
                (now - max(ACCOUNT.window, CLIENT.window, HOUR.window),),
            )
            return deleted.rowcount

    def succeeded(
        self, *, account_key: str, client: str, device_key: str | None, now: datetime
    ) -> None:
        """The password was right: forgive the attempt counted by `begin`."""
        rows = _rows(account_key, client, device_key)
        with self._pool.connection() as conn, conn.transaction():
            _store(conn, rows, forgive(_lock(conn, rows), now))

    def withdrawn(
        self, *, account_key: str, client: str, device_key: str | None, now: datetime
    ) -> None:
        """The password could not be checked (no hashing slot): undo what `begin` counted,
        so an honest person retrying under load never locks themselves out."""
        rows = _rows(account_key, client, device_key)
        with self._pool.connection() as conn, conn.transaction():
            _store(conn, rows, withdraw(_lock(conn, rows), now))

    def clear_account(self, account_key: str) -> None:
        """Forget every failure on the account (after a password reset by e-mail)."""
        with self._pool.connection() as conn, conn.transaction():
            # Rows locked in bucket order first, as `begin` locks them, so neither deadlocks.
            conn.execute(
                """SELECT bucket FROM login_buckets WHERE account_key = %s
                   ORDER BY bucket FOR UPDATE""",
                (account_key,),
            )
            conn.execute("DELETE FROM login_buckets WHERE account_key = %s", (account_key,))

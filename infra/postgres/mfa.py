"""Second factors: each account's TOTP secret (sealed under the account's own key, so
erasure destroys it) and its recovery codes (SHA-256 hashes only).

A secret is pending from the start of enrolment until a code confirms it. The last time
step used is kept, and moved only forwards, in one statement: of two sign-ins racing with
the same code, one wins.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import Connection

DDL = (
    """CREATE TABLE IF NOT EXISTS mfa (
        account_id uuid PRIMARY KEY REFERENCES credentials ON DELETE CASCADE,
        sealed_secret text NOT NULL,
        started_at timestamptz NOT NULL,
        enabled_at timestamptz,
        last_step bigint
    )""",
    """CREATE TABLE IF NOT EXISTS mfa_recovery_codes (
        code_hash bytea PRIMARY KEY,
        account_id uuid NOT NULL REFERENCES credentials ON DELETE CASCADE,
        used_at timestamptz
    )""",
    "CREATE INDEX IF NOT EXISTS mfa_recovery_codes_account ON mfa_recovery_codes (account_id)",
)


@dataclass(frozen=True)
class Factor:
    sealed_secret: str
    enabled: bool
    last_step: int | None


def factor_of(conn: Connection[Any], account_id: UUID) -> Factor | None:
    row = conn.execute(
        "SELECT sealed_secret, enabled_at IS NOT NULL, last_step FROM mfa WHERE account_id = %s",
        (account_id,),
    ).fetchone()
    return None if row is None else Factor(*row)


def start(conn: Connection[Any], account_id: UUID, sealed_secret: str, now: datetime) -> bool:
    """Keep a new pending secret; False (nothing changed) if a factor is already enabled."""
    row = conn.execute(
        """INSERT INTO mfa (account_id, sealed_secret, started_at) VALUES (%s, %s, %s)
           ON CONFLICT (account_id) DO UPDATE
           SET sealed_secret = excluded.sealed_secret, started_at = excluded.started_at,
               last_step = NULL
           WHERE mfa.enabled_at IS NULL
           RETURNING account_id""",
        (account_id, sealed_secret, now),
    ).fetchone()
    return row is not None


def enable(
    conn: Connection[Any], account_id: UUID, step: int, code_hashes: list[bytes], now: datetime
) -> bool:
    """Enable the pending factor with its first code's step and fresh recovery codes."""
    row = conn.execute(
        """UPDATE mfa SET enabled_at = %s, last_step = %s
           WHERE account_id = %s AND enabled_at IS NULL RETURNING account_id""",
        (now, step, account_id),
    ).fetchone()
    if row is None:
        return False
    conn.execute("DELETE FROM mfa_recovery_codes WHERE account_id = %s", (account_id,))
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO mfa_recovery_codes (code_hash, account_id) VALUES (%s, %s)",
            [(code_hash, account_id) for code_hash in code_hashes],
        )
    return True


def use_step(conn: Connection[Any], account_id: UUID, step: int) -> bool:
    """Record a code's step as used; False if it, or a later one, already was."""
    row = conn.execute(
        """UPDATE mfa SET last_step = %s
           WHERE account_id = %s AND enabled_at IS NOT NULL
             AND (last_step IS NULL OR last_step < %s)
           RETURNING account_id""",
        (step, account_id, step),
    ).fetchone()
    return row is not None


def use_recovery_code(
    conn: Connection[Any], account_id: UUID, code_hash: bytes, now: datetime
) -> bool:
    """Spend a recovery code; False if it is not this account's or was spent before."""
    row = conn.execute(
        """UPDATE mfa_recovery_codes SET used_at = %s
           WHERE code_hash = %s AND account_id = %s AND used_at IS NULL
           RETURNING code_hash""",
        (now, code_hash, account_id),
    ).fetchone()
    return row is not None


def remove(conn: Connection[Any], account_id: UUID) -> None:
    conn.execute("DELETE FROM mfa_recovery_codes WHERE account_id = %s", (account_id,))
    conn.execute("DELETE FROM mfa WHERE account_id = %s", (account_id,))

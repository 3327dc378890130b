"""Single-use, time-limited tokens for the links in e-mails (verify, reset, confirm change).

Only a SHA-256 of each token is stored; the token itself exists in the e-mail alone.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from psycopg import Connection

from domain.accounts import EMAIL_CHANGE_UNDO

TOKEN_BYTES = 32  # 256 random bits


class Purpose(StrEnum):
    VERIFY_EMAIL = "verify_email"
    RESET_PASSWORD = "reset_password"  # noqa: S105 (a purpose name, not a secret)
    CONFIRM_EMAIL_CHANGE = "confirm_email_change"
    CANCEL_EMAIL_CHANGE = "cancel_email_change"


LIFETIMES = {
    Purpose.VERIFY_EMAIL: timedelta(hours=24),
    Purpose.RESET_PASSWORD: timedelta(hours=1),
    Purpose.CONFIRM_EMAIL_CHANGE: timedelta(hours=24),
    Purpose.CANCEL_EMAIL_CHANGE: EMAIL_CHANGE_UNDO,
}
# A later notice must not silence an earlier one: an attacker who confirmed one change and
# asks for another would otherwise disable the link the real owner holds.
KEEP_EARLIER = frozenset({Purpose.CANCEL_EMAIL_CHANGE})

DDL = (
    """CREATE TABLE IF NOT EXISTS one_time_tokens (
        token_hash bytea PRIMARY KEY,
        account_id uuid NOT NULL REFERENCES credentials ON DELETE CASCADE,
        purpose text NOT NULL,
        payload text,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        used_at timestamptz
    )""",
    "CREATE INDEX IF NOT EXISTS one_time_tokens_account ON one_time_tokens (account_id)",
)


@dataclass(frozen=True)
class Redeemed:
    account_id: UUID
    payload: str | None


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def issue(
    conn: Connection[Any], account_id: UUID, purpose: Purpose, payload: str | None = None
) -> str:
    """A new token for the account; earlier unused tokens of the same purpose stop working."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with conn.transaction():
        if purpose not in KEEP_EARLIER:
            revoke_all(conn, account_id, purpose)
        conn.execute(
            """INSERT INTO one_time_tokens (token_hash, account_id, purpose, payload, expires_at)
               VALUES (%s, %s, %s, %s, now() + %s)""",
            (digest(token), account_id, purpose.value, payload, LIFETIMES[purpose]),
        )
    return token


def look_up(conn: Connection[Any], token: str, purpose: Purpose) -> Redeemed | None:
    """What a live token is for, without using it (check a proof first, redeem after)."""
    row = conn.execute(
        """SELECT account_id, payload FROM one_time_tokens
           WHERE token_hash = %s AND purpose = %s AND used_at IS NULL AND expires_at > now()""",
        (digest(token), purpose.value),
    ).fetchone()
    return Redeemed(row[0], row[1]) if row else None


def redeem(
    conn: Connection[Any], token: str, purpose: Purpose, account_id: UUID | None = None
) -> Redeemed | None:
    """Use a token once; None if it is unknown, used, expired, for another purpose or, when
    `account_id` is given, for another account."""
    row = conn.execute(
        """UPDATE one_time_tokens SET used_at = now()
           WHERE token_hash = %s AND purpose = %s AND used_at IS NULL AND expires_at > now()
             AND account_id = coalesce(%s, account_id)
           RETURNING account_id, payload""",
        (digest(token), purpose.value, account_id),
    ).fetchone()
    return Redeemed(row[0], row[1]) if row else None


def revoke_all(conn: Connection[Any], account_id: UUID, purpose: Purpose) -> None:
    conn.execute(
        """UPDATE one_time_tokens SET used_at = now()
           WHERE account_id = %s AND purpose = %s AND used_at IS NULL""",
        (account_id, purpose.value),
    )

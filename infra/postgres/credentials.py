"""Who can sign in: one row per live account, found by blind indexes, never by clear text.

Rows are mutable security state, not history: a password hash is a secret, so it lives
here and never in an event, and erasing an account deletes its row.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from psycopg import Connection
from psycopg.rows import class_row

from domain.accounts import normalise_email
from infra.postgres.tokens import Purpose
from infra.security.keyring import Keyring

PENDING = "pending"  # registered, e-mail not yet verified
ACTIVE = "active"

DDL = (
    """CREATE TABLE IF NOT EXISTS credentials (
        account_id uuid PRIMARY KEY,
        user_key text NOT NULL UNIQUE,
        email_key text UNIQUE,
        role text NOT NULL,
        status text NOT NULL,
        password_hash text NOT NULL,
        must_change_password boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now(),
        password_changed_at timestamptz NOT NULL DEFAULT now()
    )""",
    # The hub a courier or hub operator belongs to (domain/custody.py), beside the role so
    # that a session's look-up finds both in one row.
    "ALTER TABLE credentials ADD COLUMN IF NOT EXISTS hub_code text",
)


@dataclass(frozen=True)
class Credential:
    account_id: UUID
    user_key: str
    email_key: str | None
    role: str
    status: str
    password_hash: str
    must_change_password: bool
    created_at: datetime
    password_changed_at: datetime


_COLUMNS = """account_id, user_key, email_key, role, status, password_hash,
              must_change_password, created_at, password_changed_at"""


def by_user_key(conn: Connection[Any], user_key: str) -> Credential | None:
    with conn.cursor(row_factory=class_row(Credential)) as cur:
        return cur.execute(
            f"SELECT {_COLUMNS} FROM credentials WHERE user_key = %s",  # noqa: S608
            (user_key,),
        ).fetchone()


def by_account(conn: Connection[Any], account_id: UUID) -> Credential | None:
    with conn.cursor(row_factory=class_row(Credential)) as cur:
        return cur.execute(
            f"SELECT {_COLUMNS} FROM credentials WHERE account_id = %s",  # noqa: S608
            (account_id,),
        ).fetchone()


def email_key(keyring: Keyring, email: str) -> str:
    """The blind index an e-mail address is found by."""
    return keyring.blind("email", normalise_email(email))


def account_for_email(conn: Connection[Any], email_key: str) -> UUID | None:
    """The live account whose verified address has this blind index."""
    row = conn.execute(
        "SELECT account_id FROM credentials WHERE email_key = %s AND status = %s",
        (email_key, ACTIVE),
    ).fetchone()
    return row[0] if row else None


def claim(
    conn: Connection[Any],
    account_id: UUID,
    user_key: str,
    role: str,
    password_hash: str,
    *,
    active: bool,
    must_change_password: bool,
) -> bool:
    """Take the user id for a new account; False if another row holds it."""
    row = conn.execute(
        """INSERT INTO credentials (account_id, user_key, role, status, password_hash,
               must_change_password)
           VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (user_key) DO NOTHING
           RETURNING account_id""",
        (
            account_id,
            user_key,
            role,
            ACTIVE if active else PENDING,
            password_hash,
            must_change_password,
        ),
    ).fetchone()
    return row is not None


def release_if_abandoned(
    conn: Connection[Any], account_id: UUID, held_for: timedelta, *, registered: bool
) -> bool:
    """Delete the row if it has stood longer than `held_for` with no account behind it
    (`registered` false), or unverified with no live e-mail verification link; True if
    this call deleted it."""
    released = conn.execute(
        """DELETE FROM credentials c
           WHERE c.account_id = %(account)s AND c.created_at < now() - %(held_for)s
             AND (NOT %(registered)s OR (c.status = %(pending)s AND NOT EXISTS (
                 SELECT 1 FROM one_time_tokens t
                 WHERE t.account_id = c.account_id AND t.purpose = %(verify)s
                   AND t.expires_at > now())))
           RETURNING c.account_id""",
        {
            "account": account_id,
            "held_for": held_for,
            "registered": registered,
            "pending": PENDING,
            "verify": Purpose.VERIFY_EMAIL.value,
        },
    ).fetchone()
    return released is not None


def set_email(conn: Connection[Any], account_id: UUID, email_key: str, *, activate: bool) -> None:
    """Record the verified address's blind index (UniqueViolation if another has it)."""
    conn.execute(
        """UPDATE credentials SET email_key = %s,
               status = CASE WHEN %s THEN 'active' ELSE status END
           WHERE account_id = %s""",
        (email_key, activate, account_id),
    )


def set_password_hash(conn: Connection[Any], account_id: UUID, password_hash: str) -> None:
    """The same password, hashed again with today's parameters."""
    conn.execute(
        "UPDATE credentials SET password_hash = %s WHERE account_id = %s",
        (password_hash, account_id),
    )


def change_password(
    conn: Connection[Any], account_id: UUID, password_hash: str, now: datetime
) -> str | None:
    """A new password; the account's user key, or None if it has no credential."""
    row = conn.execute(
        """UPDATE credentials SET password_hash = %s, password_changed_at = %s,
               must_change_password = false
           WHERE account_id = %s RETURNING user_key""",
        (password_hash, now, account_id),
    ).fetchone()
    return None if row is None else str(row[0])


def set_one_time_password(
    conn: Connection[Any], account_id: UUID, password_hash: str, now: datetime
) -> None:
    """A password its holder must change at first sign-in; its age is counted from `now`."""
    conn.execute(
        """UPDATE credentials SET password_hash = %s, password_changed_at = %s,
               must_change_password = true
           WHERE account_id = %s""",
        (password_hash, now, account_id),
    )


def set_hub(conn: Connection[Any], account_id: UUID, hub_code: str) -> None:
    conn.execute(
        "UPDATE credentials SET hub_code = %s WHERE account_id = %s", (hub_code, account_id)
    )


def delete(conn: Connection[Any], account_id: UUID) -> None:
    conn.execute("DELETE FROM credentials WHERE account_id = %s", (account_id,))


def any_with_role(conn: Connection[Any], role: str) -> bool:
    row = conn.execute("SELECT 1 FROM credentials WHERE role = %s LIMIT 1", (role,))
    return row.fetchone() is not None

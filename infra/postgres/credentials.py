"""Who can sign in: one row per live account, found by blind indexes, never by clear text.

Rows are mutable security state, not history: a password hash is a secret, so it lives
here and never in an event, and erasing an account deletes its row.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import Connection
from psycopg.rows import class_row

from domain.accounts import normalise_email
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

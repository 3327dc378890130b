"""Opaque bearer sessions and trusted-device tokens, stored only as SHA-256 hashes.

A session token is 256 random bits. It expires after an idle period and at an absolute
lifetime; logout revokes one, a password change or reset revokes all of an account's.
A device token is given at each successful login and lets that device past the lock
an attacker may have put on the account (OWASP's "device cookie"); it expires, and a
password change or reset, or signing out everywhere, forgets every one of the account's.
A session remembers the device it was issued to, so re-authentication inside it counts
against that device's bucket, never the one anyone can fill with wrong passwords.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from psycopg import Connection

from domain.session_policy import SessionPolicy

SESSION_PREFIX = "jls_"
DEVICE_PREFIX = "jld_"
TOKEN_BYTES = 32
LAST_SEEN_GRANULARITY = timedelta(minutes=1)

DDL = (
    """CREATE TABLE IF NOT EXISTS sessions (
        token_hash bytea PRIMARY KEY,
        account_id uuid NOT NULL REFERENCES credentials ON DELETE CASCADE,
        created_at timestamptz NOT NULL,
        last_seen_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        revoked_at timestamptz
    )""",
    "CREATE INDEX IF NOT EXISTS sessions_account ON sessions (account_id)",
    "ALTER TABLE sessions ADD COLUMN IF NOT EXISTS device_key text",
    """CREATE TABLE IF NOT EXISTS trusted_devices (
        token_hash bytea PRIMARY KEY,
        account_id uuid NOT NULL REFERENCES credentials ON DELETE CASCADE,
        created_at timestamptz NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS trusted_devices_account ON trusted_devices (account_id)",
    # An opaque id by which the owner can see a session without its token.
    "ALTER TABLE sessions ADD COLUMN IF NOT EXISTS id uuid NOT NULL DEFAULT gen_random_uuid()",
)


@dataclass(frozen=True)
class Session:
    account_id: UUID
    role: str
    status: str
    must_change_password: bool
    created_at: datetime
    expires_at: datetime
    mfa_enabled: bool = False
    hub_code: str | None = None  # a courier's or hub operator's hub


@dataclass(frozen=True)
class Issued:
    token: str
    expires_at: datetime


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def issue(
    conn: Connection[Any],
    account_id: UUID,
    now: datetime,
    lifetime: timedelta,
    device_key: str | None = None,
) -> Issued:
    """A new session, issued to the trusted device `device_key` (device_key_of)."""
    token = SESSION_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    expires_at = now + lifetime
    conn.execute(
        """INSERT INTO sessions
               (token_hash, account_id, created_at, last_seen_at, expires_at, device_key)
           VALUES (%s, %s, %s, %s, %s, %s)""",
        (digest(token), account_id, now, now, expires_at, device_key),
    )
    return Issued(token, expires_at)


def device_key_of(device_token: str) -> str:
    """The stable key of a trusted device, as the throttle and sessions name it."""
    return digest(device_token).hex()


def session_device_key(conn: Connection[Any], token: str) -> str:
    """The device a session was issued to; for a session older than that record, a key
    of the session itself (it, too, was earned with the password)."""
    row = conn.execute(
        "SELECT device_key FROM sessions WHERE token_hash = %s", (digest(token),)
    ).fetchone()
    return row[0] if row and row[0] else f"session:{digest(token).hex()}"


def authenticate(
    conn: Connection[Any], token: str, now: datetime, policy: SessionPolicy
) -> Session | None:
    """The live session a token names, touching its idle clock; None if not valid."""
    if not token.startswith(SESSION_PREFIX):
        return None
    row = conn.execute(
        """SELECT s.account_id, c.role, c.status, c.must_change_password, s.created_at,
                  s.expires_at, EXISTS (SELECT 1 FROM mfa m WHERE m.account_id = s.account_id
                                        AND m.enabled_at IS NOT NULL),
                  c.hub_code, s.last_seen_at
           FROM sessions s JOIN credentials c USING (account_id)
           WHERE s.token_hash = %s AND s.revoked_at IS NULL AND s.expires_at > %s""",
        (digest(token), now),
    ).fetchone()
    if row is None or not policy.is_live(row[1], row[4], row[8], now):
        return None
    if now - row[8] >= LAST_SEEN_GRANULARITY:  # one write a minute, not one per request
        conn.execute(
            "UPDATE sessions SET last_seen_at = %s WHERE token_hash = %s", (now, digest(token))
        )
    return Session(*row[:8])


def revoke(conn: Connection[Any], token: str, now: datetime) -> None:
    conn.execute(
        "UPDATE sessions SET revoked_at = %s WHERE token_hash = %s AND revoked_at IS NULL",
        (now, digest(token)),
    )


def revoke_all(conn: Connection[Any], account_id: UUID, now: datetime) -> None:
    conn.execute(
        "UPDATE sessions SET revoked_at = %s WHERE account_id = %s AND revoked_at IS NULL",
        (now, account_id),
    )


def sessions_of(conn: Connection[Any], account_id: UUID) -> list[dict[str, Any]]:
    """For the owner's data export: when sessions were made and used, never the tokens."""
    rows = conn.execute(
        """SELECT created_at, last_seen_at, expires_at, revoked_at FROM sessions
           WHERE account_id = %s ORDER BY created_at""",
        (account_id,),
    ).fetchall()
    keys = ("created_at", "last_seen_at", "expires_at", "revoked_at")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def live_sessions(
    conn: Connection[Any], account_id: UUID, role: str, now: datetime, policy: SessionPolicy
) -> list[dict[str, Any]]:
    """The account's sessions that still work, by opaque id (never the token's hash)."""
    rows = conn.execute(
        """SELECT id, token_hash, created_at, last_seen_at, expires_at FROM sessions
           WHERE account_id = %s AND revoked_at IS NULL AND expires_at > %s
           ORDER BY created_at""",
        (account_id, now),
    ).fetchall()
    return [
        {
            "id": row[0],
            "token_hash": bytes(row[1]),
            "created_at": row[2],
            "last_seen_at": row[3],
            "expires_at": row[4],
        }
        for row in rows
        if policy.is_live(role, row[2], row[3], now)
    ]


def trust_device(conn: Connection[Any], account_id: UUID, now: datetime) -> str:
    token = DEVICE_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    conn.execute(
        "INSERT INTO trusted_devices (token_hash, account_id, created_at) VALUES (%s, %s, %s)",
        (digest(token), account_id, now),
    )
    return token


def trusted_device_key(
    conn: Connection[Any],
    account_id: UUID,
    token: str | None,
    *,
    now: datetime,
    lifetime: timedelta,
) -> str | None:
    """A stable key for the device if the token is one this account was given within
    `lifetime`, else None."""
    if not token or not token.startswith(DEVICE_PREFIX):
        return None
    row = conn.execute(
        """SELECT 1 FROM trusted_devices
           WHERE token_hash = %s AND account_id = %s AND created_at > %s""",
        (digest(token), account_id, now - lifetime),
    ).fetchone()
    return device_key_of(token) if row else None


def forget_devices(conn: Connection[Any], account_id: UUID) -> None:
    """Every trusted-device token of the account stops working."""
    conn.execute("DELETE FROM trusted_devices WHERE account_id = %s", (account_id,))

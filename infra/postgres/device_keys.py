"""API keys for hub scanners and courier devices.

A key is 256 random bits shown once; only its SHA-256 is stored (a slow password
hash buys nothing for a secret this long and would slow every scan). A key belongs to a
hub; a courier's key is also bound to the courier's account, who then is the one scanning.
"""

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg_pool import ConnectionPool

HUB_CODE = re.compile(r"[A-Z]{3}[0-9]{5}")
REVOCATIONS = "jalur_api_key_revoked"  # NOTIFY channel: API processes drop their cached keys


@dataclass(frozen=True)
class Device:
    key_id: str
    hub_code: str
    courier: UUID | None = None  # the courier account the key is bound to


@dataclass(frozen=True)
class KeyRecord:
    key_id: str
    hub_code: str
    label: str
    created_at: datetime
    revoked_at: datetime | None
    courier: UUID | None


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def create_key(
    conn: psycopg.Connection[Any], hub_code: str, label: str = "", courier: UUID | None = None
) -> tuple[str, str]:
    """Create a key for a hub, bound to one of its couriers if `courier` names one;
    returns (key id, the secret, shown only now)."""
    if HUB_CODE.fullmatch(hub_code) is None:
        raise ValueError("a hub code looks like CGK10000 (city code and five digits)")
    if courier is not None and not _is_courier_of(conn, courier, hub_code):
        raise ValueError(f"no courier of hub {hub_code} has that account")
    key_id = "key_" + secrets.token_hex(6)
    secret = f"jlk_{secrets.token_urlsafe(32)}"
    conn.execute(
        """INSERT INTO api_keys (key_id, key_hash, hub_code, label, courier_account)
           VALUES (%s, %s, %s, %s, %s)""",
        (key_id, _digest(secret), hub_code, label, courier),
    )
    return key_id, secret


def _is_courier_of(conn: psycopg.Connection[Any], account: UUID, hub_code: str) -> bool:
    row = conn.execute(
        """SELECT 1 FROM credentials
           WHERE account_id = %s AND role = 'courier' AND hub_code = %s""",
        (account, hub_code),
    ).fetchone()
    return row is not None


def revoke_key(conn: psycopg.Connection[Any], key_id: str) -> bool:
    """Revoke a key; every API process forgets its cached keys when this commits."""
    with conn.transaction():
        cur = conn.execute(
            "UPDATE api_keys SET revoked_at = now() WHERE key_id = %s AND revoked_at IS NULL",
            (key_id,),
        )
        conn.execute(f"NOTIFY {REVOCATIONS}")
    return cur.rowcount == 1


def list_keys(conn: psycopg.Connection[Any]) -> list[KeyRecord]:
    rows = conn.execute(
        """SELECT key_id, hub_code, label, created_at, revoked_at, courier_account
           FROM api_keys ORDER BY created_at"""
    ).fetchall()
    return [KeyRecord(*row) for row in rows]


def digest(secret: str) -> bytes:
    return _digest(secret)


def authenticate(pool: ConnectionPool, secret: str) -> Device | None:
    """The device of a live key. A key bound to a courier works only while that account
    is a courier of the key's hub: moved to another hub, made something else or erased,
    the courier's old phone stops at once."""
    with pool.connection() as conn:
        row = conn.execute(
            """SELECT k.key_id, k.hub_code, k.courier_account FROM api_keys k
               LEFT JOIN credentials c ON c.account_id = k.courier_account
               WHERE k.key_hash = %s AND k.revoked_at IS NULL
                 AND (k.courier_account IS NULL
                      OR (c.role = 'courier' AND c.hub_code = k.hub_code))""",
            (_digest(secret),),
        ).fetchone()
    return Device(*row) if row else None


def forget_remembered(conn: psycopg.Connection[Any]) -> None:
    """Every API process empties its memory of keys when the caller's transaction commits
    (a courier's hub or access changed, so keys bound to them must be looked up again)."""
    conn.execute(f"NOTIFY {REVOCATIONS}")


def revoke_keys_of(conn: psycopg.Connection[Any], courier: UUID) -> int:
    """Revoke every key bound to a courier (their phone was lost with their password)."""
    cur = conn.execute(
        """UPDATE api_keys SET revoked_at = now()
           WHERE courier_account = %s AND revoked_at IS NULL""",
        (courier,),
    )
    forget_remembered(conn)
    return cur.rowcount

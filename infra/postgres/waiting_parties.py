"""The waiting_parties table: shipment parties booked to an e-mail address that no account
has verified yet, kept by the address's blind index until an account claims them."""

from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import Connection

DDL = (
    """CREATE TABLE IF NOT EXISTS waiting_parties (
        email_key text NOT NULL,
        shipment_id uuid NOT NULL,
        role text NOT NULL,
        booked_at timestamptz NOT NULL,
        PRIMARY KEY (email_key, shipment_id, role)
    )""",
)


def add(
    conn: Connection[Any], email_key: str, shipment_id: UUID, role: str, booked_at: datetime
) -> None:
    conn.execute(
        """INSERT INTO waiting_parties (email_key, shipment_id, role, booked_at)
           VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING""",
        (email_key, shipment_id, role, booked_at),
    )


def waiting_for(conn: Connection[Any], email_key: str) -> list[tuple[UUID, str]]:
    """(shipment id, role) of every party waiting for this address."""
    rows = conn.execute(
        "SELECT shipment_id, role FROM waiting_parties WHERE email_key = %s", (email_key,)
    ).fetchall()
    return [(shipment_id, role) for shipment_id, role in rows]


def remove(conn: Connection[Any], email_key: str, shipment_id: UUID, role: str) -> None:
    conn.execute(
        """DELETE FROM waiting_parties
           WHERE email_key = %s AND shipment_id = %s AND role = %s""",
        (email_key, shipment_id, role),
    )

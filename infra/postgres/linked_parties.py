"""The linked_parties table: every shipment party linked to an account after its booking.

Such a party's data stays sealed under the shipment's own party subject (the booking was
sealed before anyone knew whose it was), so erasing the account must destroy that
subject's key too. The row is written before the link event, so no crash can leave a
linked party that erasure would miss; a row whose event never followed names a party
waiting for this account's own verified address, so shredding it is right as well.
"""

from typing import Any
from uuid import UUID

from psycopg import Connection, errors

DDL = (
    """CREATE TABLE IF NOT EXISTS linked_parties (
        account_id uuid NOT NULL REFERENCES credentials ON DELETE CASCADE,
        shipment_id uuid NOT NULL,
        role text NOT NULL,
        PRIMARY KEY (account_id, shipment_id, role)
    )""",
)


def add(conn: Connection[Any], account_id: UUID, shipment_id: UUID, role: str) -> bool:
    """Record the link about to be made; False if the account is gone (erased)."""
    try:
        with conn.transaction():
            conn.execute(
                """INSERT INTO linked_parties (account_id, shipment_id, role)
                   VALUES (%s, %s, %s) ON CONFLICT DO NOTHING""",
                (account_id, shipment_id, role),
            )
    except errors.ForeignKeyViolation:
        return False
    return True


def take_all(conn: Connection[Any], account_id: UUID) -> list[tuple[UUID, str]]:
    """Every party linked to the account, forgotten here. Locks the account's credentials
    first, so a link being recorded concurrently is either seen or refused."""
    conn.execute("SELECT 1 FROM credentials WHERE account_id = %s FOR UPDATE", (account_id,))
    rows = conn.execute(
        "DELETE FROM linked_parties WHERE account_id = %s RETURNING shipment_id, role",
        (account_id,),
    ).fetchall()
    return [(shipment_id, role) for shipment_id, role in rows]

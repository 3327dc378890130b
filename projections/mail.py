"""The outgoing-mail queue: which transaction e-mails the events call for.

`apply` only enqueues: one row per (event, template, recipient role), keyed so that
applying an event again can never add a second row. It never decrypts, never creates
tokens and never talks SMTP (the sender in consumers/mail_sender.py does), so it stays
pure. Addresses and names are kept only as the sealed strings the events carry, so
erasure makes them unreadable here too; anything personal in clear (shipment events
stored before issue 4) is not kept, and gets no mail.

Sending is a side effect, so this projection is never rebuilt: a replay would send
every e-mail again.
"""

from collections.abc import Callable
from typing import Any

from psycopg import Cursor, sql
from psycopg.types.json import Jsonb

from domain.public import PublicEvent
from domain.sealing import is_sealed

NAME = "mail"
CONTEXTS = ("accounts", "shipments")
TABLES = ("queue", "accounts", "shipments")
REBUILDABLE = False
DELIVERED = "D01"

Handler = Callable[[PublicEvent, Cursor[Any]], None]

DDL = (
    """CREATE TABLE queue (
        message_key text PRIMARY KEY,
        template text NOT NULL,
        account_id uuid,
        recipient text,
        params jsonb NOT NULL,
        event_at timestamptz NOT NULL,
        status text NOT NULL DEFAULT 'pending',
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        last_error text,
        done_at timestamptz
    )""",
    "CREATE INDEX ON queue (next_attempt_at) WHERE status = 'pending'",
    "CREATE INDEX ON queue (account_id) WHERE status = 'pending'",
    """CREATE TABLE accounts (
        account_id uuid PRIMARY KEY,
        email text,
        display_name text
    )""",
    """CREATE TABLE shipments (
        shipment_id uuid PRIMARY KEY,
        awb text NOT NULL,
        service text NOT NULL,
        shipper_account uuid,
        shipper_name text,
        shipper_email text,
        receiver_account uuid,
        receiver_name text,
        receiver_email text
    )""",
)


def apply(event: PublicEvent, cur: Cursor[Any]) -> None:
    handler = _HANDLERS.get(event.type)
    if handler is not None:
        handler(event, cur)


def _enqueue(
    cur: Cursor[Any],
    event: PublicEvent,
    template: str,
    role: str,
    recipient: str | None,
    params: dict[str, str | None],
    account_id: str | None,
) -> None:
    if recipient is None:
        return
    key = f"{event.aggregate_id}:{event.aggregate_version}:{template}:{role}"
    cur.execute(
        """INSERT INTO queue (message_key, template, account_id, recipient, params, event_at)
           VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (message_key) DO NOTHING""",
        (key, template, account_id, recipient, Jsonb(params), event.occurred_at),
    )


def _sealed(value: Any) -> str | None:
    return value if is_sealed(value) else None


def _account(cur: Cursor[Any], account_id: str) -> tuple[str | None, str | None]:
    """The account's sealed (current e-mail, display name), or (None, None)."""
    row = cur.execute(
        "SELECT email, display_name FROM accounts WHERE account_id = %s", (account_id,)
    ).fetchone()
    return (row[0], row[1]) if row else (None, None)


def _registered(event: PublicEvent, cur: Cursor[Any]) -> None:
    email, name = _sealed(event.data.get("email")), _sealed(event.data.get("display_name"))
    cur.execute(
        """INSERT INTO accounts (account_id, email, display_name) VALUES (%s, %s, %s)
           ON CONFLICT (account_id) DO NOTHING""",
        (event.aggregate_id, email, name),
    )
    _enqueue(cur, event, "verify_email", "registered", email, {"name": name}, event.aggregate_id)


def _email_change_requested(event: PublicEvent, cur: Cursor[Any]) -> None:
    current, name = _account(cur, event.aggregate_id)
    new_email = _sealed(event.data["new_email"])
    confirm = {"name": name, "change_id": event.data["change_id"]}
    _enqueue(cur, event, "email_change_confirm", "new", new_email, confirm, event.aggregate_id)
    notice = {"name": name, "new_email": new_email, "change_id": event.data["change_id"]}
    _enqueue(cur, event, "email_change_notice", "old", current, notice, event.aggregate_id)


def _email_changed(event: PublicEvent, cur: Cursor[Any]) -> None:
    """A confirmed change, or one the old address undid: mail goes to the new address."""
    cur.execute(
        "UPDATE accounts SET email = %s WHERE account_id = %s",
        (_sealed(event.data["email"]), event.aggregate_id),
    )


def _to_account(template: str) -> Handler:
    def handler(event: PublicEvent, cur: Cursor[Any]) -> None:
        email, name = _account(cur, event.aggregate_id)
        _enqueue(cur, event, template, "account", email, {"name": name}, event.aggregate_id)

    return handler


def _erased(event: PublicEvent, cur: Cursor[Any]) -> None:
    account_id = event.aggregate_id
    cur.execute("DELETE FROM accounts WHERE account_id = %s", (account_id,))
    cur.execute(
        """UPDATE queue SET status = 'dropped', done_at = %s, recipient = NULL, params = '{}'
           WHERE account_id = %s AND status = 'pending'""",
        (event.occurred_at, account_id),
    )
    for role in ("shipper", "receiver"):
        statement = sql.SQL("UPDATE shipments SET {} = NULL, {} = NULL WHERE {} = %s").format(
            *(sql.Identifier(f"{role}_{column}") for column in ("name", "email", "account"))
        )
        cur.execute(statement, (account_id,))


def _booked(event: PublicEvent, cur: Cursor[Any]) -> None:
    data, booking = event.data, event.data["booking"]
    shipper, receiver = booking["shipper"], booking["receiver"]
    cur.execute(
        """INSERT INTO shipments (shipment_id, awb, service, shipper_account, shipper_name,
               shipper_email, receiver_account, receiver_name, receiver_email)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (shipment_id) DO NOTHING""",
        (
            event.aggregate_id,
            data["awb"],
            booking["service"],
            data.get("shipper_account"),
            _sealed(shipper.get("name")),
            _sealed(shipper.get("email")),  # schema v1 bookings have none: nothing is sent
            data.get("receiver_account"),
            _sealed(receiver.get("name")),
            _sealed(receiver.get("email")),
        ),
    )
    name, recipient = _sealed(shipper.get("name")), _sealed(shipper.get("email"))
    params = {"name": name, "awb": data["awb"], "service": booking["service"]}
    account = data.get("shipper_account")
    _enqueue(cur, event, "shipment_booked", "shipper", recipient, params, account)


def _party_linked(event: PublicEvent, cur: Cursor[Any]) -> None:
    """A party linked after booking mails as the account: its erasure stops that mail."""
    role = event.data["role"]
    if role not in ("shipper", "receiver"):
        return
    statement = sql.SQL("UPDATE shipments SET {} = %s WHERE shipment_id = %s").format(
        sql.Identifier(f"{role}_account")
    )
    cur.execute(statement, (event.data["account"], event.aggregate_id))


def _scanned(event: PublicEvent, cur: Cursor[Any]) -> None:
    if event.data["code"] != DELIVERED:
        return
    row = cur.execute(
        """SELECT awb, shipper_account, shipper_name, shipper_email,
                  receiver_account, receiver_name, receiver_email
           FROM shipments WHERE shipment_id = %s""",
        (event.aggregate_id,),
    ).fetchone()
    if row is None:
        return
    awb, parties = row[0], {"shipper": row[1:4], "receiver": row[4:7]}
    for role, (account, name, email) in parties.items():
        params = {"name": name, "awb": awb}
        account_id = str(account) if account else None
        _enqueue(cur, event, "shipment_delivered", role, email, params, account_id)


_HANDLERS: dict[str, Handler] = {
    "AccountRegistered": _registered,
    "AccountEmailChangeRequested": _email_change_requested,
    "AccountEmailChanged": _email_changed,
    "AccountEmailChangeReverted": _email_changed,
    "AccountPasswordResetRequested": _to_account("password_reset"),
    "AccountPasswordChanged": _to_account("password_changed"),
    "AccountErased": _erased,
    "ShipmentBooked": _booked,
    "ScanRecorded": _scanned,
    "ShipmentPartyLinked": _party_linked,
}

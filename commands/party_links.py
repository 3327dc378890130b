"""Shipment parties waiting for their customer: a parcel booked to an e-mail address that
no account has verified yet is linked to the account that verifies it later.

Only blind indexes of the addresses are kept here, and each row goes once it is linked.
Both sides check after they write (the booking for a verified account, the verification
for waiting parties), so a booking and a verification that race still meet.
"""

from datetime import datetime
from uuid import UUID

from eventsourcing.utils import get_topic
from psycopg_pool import ConnectionPool

from commands.shipments import Booked, Shipments
from domain.booking import ROLES, Booking
from domain.shipments import Shipment, data_subject
from infra.postgres import credentials, linked_parties, waiting_parties
from infra.security.keyring import Keyring

SECTION = 1000  # link events read at a time by record_earlier_links


class PartyLinks:
    def __init__(self, pool: ConnectionPool, keyring: Keyring, shipments: Shipments) -> None:
        self.pool = pool
        self.keyring = keyring
        self.shipments = shipments

    def book(
        self,
        booking: Booking,
        *,
        actor: str,
        now: datetime,
        booking_key: str | None = None,
        shipper: UUID | None = None,
    ) -> Booked:
        """Book with each party linked to the customer whose verified address it gives
        (`shipper`: the signed-in customer who books); the others wait for theirs."""
        accounts = self._accounts_of(booking, shipper)
        booked = self.shipments.book(
            booking,
            actor=actor,
            now=now,
            booking_key=booking_key,
            shipper_account=accounts["shipper"],
            receiver_account=accounts["receiver"],
        )
        self.wait_for_owners(booked.shipment_id, booking, accounts, now)
        return booked

    def _accounts_of(self, booking: Booking, shipper: UUID | None) -> dict[str, UUID | None]:
        """Each party's account by verified e-mail (both looked up on one connection)."""
        accounts: dict[str, UUID | None] = {"shipper": shipper, "receiver": None}
        keys = {
            role: credentials.email_key(self.keyring, email)
            for role in ROLES
            if accounts[role] is None and (email := getattr(booking, role).email) is not None
        }
        if keys:
            with self.pool.connection() as conn:
                for role, key in keys.items():
                    accounts[role] = credentials.account_for_email(conn, key)
        return accounts

    def wait_for_owners(
        self, shipment_id: UUID, booking: Booking, linked: dict[str, UUID | None], now: datetime
    ) -> None:
        """Remember the booked parties with an e-mail and no account (`linked` by role)."""
        waiting = {
            role: credentials.email_key(self.keyring, email)
            for role in ROLES
            if (email := getattr(booking, role).email) is not None and linked[role] is None
        }
        if not waiting:
            return
        with self.pool.connection() as conn:
            for role, email_key in waiting.items():
                waiting_parties.add(conn, email_key, shipment_id, role, now)
            owners = {key: credentials.account_for_email(conn, key) for key in waiting.values()}
        for email_key, owner in owners.items():
            if owner is not None:  # verified while this booking was being written
                self.link_waiting(owner, email_key)

    def link_waiting(self, account_id: UUID, email_key: str) -> int:
        """Link every party waiting for this verified address to the account; how many.
        Each link is recorded first (infra/postgres/linked_parties.py) for erasure."""
        with self.pool.connection() as conn:
            waiting = waiting_parties.waiting_for(conn, email_key)
        for shipment_id, role in waiting:
            with self.pool.connection() as conn:
                if not linked_parties.add(conn, account_id, shipment_id, role):
                    return 0  # erased meanwhile: the parties wait for the next owner
            self.shipments.link_party(shipment_id, role, account_id)
            with self.pool.connection() as conn:
                waiting_parties.remove(conn, email_key, shipment_id, role)
        return len(waiting)

    def record_earlier_links(self) -> tuple[int, int]:
        """An upgrade step: record links made before linked_parties existed, from the
        event store, and shred the parties of accounts already erased without them.
        Idempotent. (recorded, shredded)"""
        topic = get_topic(Shipment.PartyLinked)  # type: ignore[attr-defined]
        start, recorded, shredded = 1, 0, 0
        while notifications := self.shipments.recorder.select_notifications(
            start=start, limit=SECTION, topics=[topic]
        ):
            for notification in notifications:
                linked = vars(self.shipments.mapper.to_domain_event(notification))
                shipment_id, role = linked["originator_id"], linked["role"]
                account = linked["account"]
                with self.pool.connection() as conn:
                    if linked_parties.add(conn, account, shipment_id, role):
                        recorded += 1
                    else:
                        self.keyring.destroy(data_subject(shipment_id, role), conn)
                        shredded += 1
            start = notifications[-1].id + 1
        return recorded, shredded

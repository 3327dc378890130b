"""The Shipment aggregate: booked once, then scanned through the network.

Scans may arrive late (a hub uploads hours after the courier): the history is
ordered by scan time. A delivered or returned shipment is closed: no scan timed
after the closing scan is accepted, and there is only one closing scan.

Personal data arrives sealed (domain/sealing.py): each party's under its data subject,
the customer's account when the caller matched one, else a subject of this shipment's
own, so erasing either makes the data unreadable wherever it was copied.
"""

from bisect import insort
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain import custody
from domain.booking import ROLES, Booking, opened_facts
from domain.custody import Fact, Scanner
from domain.errors import Conflict, RuleViolation
from domain.scans import SCAN_CODES, TERMINAL_KINDS, ScanKind
from domain.sealing import Sealer, SubjectErased

SHIPMENT_NAMESPACE = UUID("5b0f7e43-86a7-4f44-9d84-4d0a8a2b2f61")
CLOCK_SKEW = timedelta(minutes=5)


def data_subject(shipment_id: UUID, role: str, account: UUID | None = None) -> UUID:
    """Whose key seals a party's data: their verified account, else the party of this shipment."""
    if role not in ROLES:
        raise ValueError(f"unknown party role {role!r}")
    return account or uuid5(shipment_id, role)


@dataclass(frozen=True)
class Scan:
    """One scan as a device reports it."""

    scan_id: UUID
    code: str
    scanned_at: datetime
    location: str
    actor: str
    recipient_name: str | None = None
    recipient_relationship: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    hub: str | None = None  # the scanner's hub (domain/custody.py)
    by_courier: bool = False  # the actor is a courier (signed in, or their bound key)

    @property
    def scanner(self) -> Scanner:
        return Scanner(self.hub, self.actor if self.by_courier else None)


class Shipment(Aggregate):
    class Booked(Aggregate.Created):
        awb: str
        booking: dict[str, Any]  # the parties' personal values sealed (booking.sealed_facts)
        booked_at: datetime
        booked_by: str
        shipper_account: UUID | None
        receiver_account: UUID | None
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """Bookings stored before issue 4 name no accounts and no e-mail addresses."""
            state["shipper_account"] = state["receiver_account"] = None
            for role in ROLES:
                state["booking"][role].setdefault("email", None)

    @staticmethod
    def create_id(booking_key: str) -> UUID:
        """Deterministic id: booking twice with one key clashes instead of duplicating."""
        return uuid5(SHIPMENT_NAMESPACE, booking_key)

    @event(Booked)
    def __init__(
        self,
        id: UUID,
        awb: str,
        booking: dict[str, Any],
        booked_at: datetime,
        booked_by: str,
        shipper_account: UUID | None,
        receiver_account: UUID | None,
    ) -> None:
        self.awb = awb
        self.booking = booking
        self.booked_at = booked_at
        self.booked_by = booked_by
        self.shipper_account = shipper_account
        self.receiver_account = receiver_account
        self.scan_ids: set[UUID] = set()
        self.closed_at: datetime | None = None
        self.failed_attempts = 0
        self.history: list[Fact] = []  # in scan-time order

    def __deepcopy__(self, memo: dict[int, Any]) -> "Shipment":
        """A copy for one command to change (the aggregate cache hands out copies, and a
        scan batch decides on copies). Only what commands change is copied: the booking's
        facts and times are never changed after booking, so copies share them. A new
        attribute that commands change in place must be copied here too."""
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.scan_ids = set(self.scan_ids)
        clone.history = list(self.history)
        clone._pending_events = list(self._pending_events)
        return clone

    @property
    def receiver_subject(self) -> UUID:
        return data_subject(self.id, "receiver", self.receiver_account)

    def link_party(self, role: str, account: UUID) -> bool:
        """Link a party to the customer who verified its e-mail address after the booking;
        False if the party is already linked (to them or to anyone else)."""
        if role not in ROLES:
            raise ValueError(f"unknown party role {role!r}")
        if getattr(self, f"{role}_account") is not None:
            return False
        self._party_linked(role=role, account=account)
        return True

    @event("PartyLinked")
    def _party_linked(self, role: str, account: UUID) -> None:
        # Data the party's scans add from now on is sealed under the account's key.
        setattr(self, f"{role}_account", account)

    def same_booking(self, booking: Booking, sealer: Sealer) -> bool:
        """Compared in plaintext: sealing is randomised, so equal bookings never seal alike."""
        return opened_facts(self.booking, sealer) == booking.facts()

    def record_scan(self, scan: Scan, now: datetime, sealer: Sealer) -> bool:
        """Decide on a scan; False if this scan id was already recorded (a retry).

        The rules see the plaintext; the recipient's name and where the parcel was handed
        over (a home, as often as not) are sealed under the receiver's subject only once
        the scan is accepted.
        """
        if scan.scan_id in self.scan_ids:
            return False
        fact = self._check_scan(scan, now)
        found = custody.anomalies(fact, self.history, self.origin, self.destination)
        personal = self._sealed(scan, sealer)
        self._scan_recorded(
            scan_id=scan.scan_id,
            code=scan.code,
            kind=fact.kind.value,
            scanned_at=scan.scanned_at,
            location=scan.location,
            actor=scan.actor,
            recipient_name=personal["recipient_name"],
            recipient_relationship=scan.recipient_relationship,
            latitude=personal["latitude"],
            longitude=personal["longitude"],
            recorded_at=now,
            anomalies=found,
        )
        return True

    @property
    def origin(self) -> str:
        return str(self.booking["shipper"]["area"])

    @property
    def destination(self) -> str:
        return str(self.booking["receiver"]["area"])

    def holder(self, at: datetime) -> str | None:
        """Who holds the parcel at `at`: the courier's actor, or None (a hub, or nobody yet).
        Whoever records an outcome, and later takes COD cash, must be this courier."""
        return custody.holder(self.history, at)

    def _check_scan(self, scan: Scan, now: datetime) -> Fact:
        """The scan as custody will know it, once every rule has passed."""
        known = SCAN_CODES.get(scan.code)
        if known is None:
            raise RuleViolation(f"Unknown scan code {scan.code!r}.", code="unknown_scan_code")
        if scan.scanned_at > now + CLOCK_SKEW:
            raise RuleViolation("A scan cannot be timed in the future.", code="scan_in_future")
        if scan.scanned_at < self.booked_at - CLOCK_SKEW:
            raise RuleViolation("A scan cannot precede the booking.", code="scan_before_booking")
        if known.kind is ScanKind.DELIVERED and not scan.recipient_name:
            raise RuleViolation("A delivery needs the recipient's name.", code="pod_incomplete")
        custody.check_relationship(scan.recipient_relationship)
        custody.check_location(scan.scanner, scan.location)
        if self.closed_at is not None and (
            known.kind in TERMINAL_KINDS or scan.scanned_at >= self.closed_at
        ):
            raise Conflict("The shipment is already delivered or returned.", code="shipment_closed")
        if known.kind is ScanKind.RETURNED_TO_SHIPPER and self.failed_attempts == 0:
            raise RuleViolation(
                "A shipment is returned only after a failed delivery.",
                code="return_without_failed_delivery",
            )
        custody.check_custody(
            scan.scanner,
            known.kind,
            scan.location,
            scan.scanned_at,
            (self.origin, self.destination),
            self.history,
        )
        fact = Fact(scan.scanned_at, known.kind, scan.location, scan.actor)
        custody.check_outcomes_kept(fact, self.history)
        return fact

    def _sealed(self, scan: Scan, sealer: Sealer) -> dict[str, str | None]:
        personal = {
            "recipient_name": scan.recipient_name or None,
            "latitude": None if scan.latitude is None else str(scan.latitude),
            "longitude": None if scan.longitude is None else str(scan.longitude),
        }
        if not any(personal.values()):
            return personal
        try:
            return sealer.seal(self.receiver_subject, personal)
        except SubjectErased:
            # The delivery is a fact auditors keep; these would be new data on an erased person.
            return dict.fromkeys(personal)

    class ScanRecorded(Aggregate.Event):
        scan_id: UUID
        code: str
        kind: str
        scanned_at: datetime
        location: str
        actor: str
        recipient_name: str | None
        recipient_relationship: str | None
        latitude: str | float | None  # sealed; a float in scans stored before schema v3
        longitude: str | float | None
        recorded_at: datetime
        anomalies: list[str]
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """Scans stored before custody rules (issue 14) recorded no anomalies."""
            state["anomalies"] = []

    @event(ScanRecorded)
    def _scan_recorded(
        self,
        scan_id: UUID,
        code: str,
        kind: str,
        scanned_at: datetime,
        location: str,
        actor: str,
        recipient_name: str | None,
        recipient_relationship: str | None,
        latitude: str | float | None,  # sealed; a float in scans stored before schema v3
        longitude: str | float | None,
        recorded_at: datetime,
        anomalies: list[str],
    ) -> None:
        self.scan_ids.add(scan_id)
        fact = Fact(scanned_at, ScanKind(kind), location, actor)
        insort(self.history, fact, key=lambda f: f.scanned_at)
        if kind == ScanKind.DELIVERY_FAILED:
            self.failed_attempts += 1
        if kind in TERMINAL_KINDS:
            self.closed_at = scanned_at


class Waybill(Aggregate):
    """Claims an AWB for one shipment; the event store's version check keeps AWBs unique."""

    @staticmethod
    def create_id(awb: str) -> UUID:
        return uuid5(SHIPMENT_NAMESPACE, f"awb:{awb}")

    @event("Issued")
    def __init__(self, awb: str, shipment_id: UUID) -> None:
        self.awb = awb
        self.shipment_id = shipment_id

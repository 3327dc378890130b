"""Builders and given/when/then helpers shared by the unit tests."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from uuid import UUID, uuid4

from eventsourcing.domain import DomainEvent

from commands.shipments import Shipments
from domain.booking import Booking, Parcel, Party
from domain.errors import DomainError
from domain.public import PublicEvent, to_public
from domain.shipments import Scan
from tests.unit.memory_keyring import MemoryKeyring

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=3)  # the clock when scans arrive, after the whole journey


def in_memory_shipments(keyring: MemoryKeyring | None = None) -> Shipments:
    return Shipments(
        env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, sealer=keyring or MemoryKeyring()
    )


def a_booking(**changes: Any) -> Booking:
    booking = Booking(
        service="REG",
        shipper=Party(
            "Budi Santoso", "081234567890", "Jl. Melati 1", "CGK10110", "budi.santoso@example.id"
        ),
        receiver=Party("Siti Rahma", "081298765432", "Jl. Mawar 2", "BDO40111"),
        parcel=Parcel(
            weight_grams=1_200, length_cm=20, width_cm=15, height_cm=10, declared_value=150_000
        ),
    )
    return replace(booking, **changes)


ORIGIN_HUB = "CGK10110"  # a_booking's shipper's area, and the hub devices scan at
COURIER = "account:courier-1"  # a courier of DESTINATION_HUB
DESTINATION_HUB = "BDO40000"
COURIER_CODES = frozenset({"IP3", "D01", *(f"U0{n}" for n in range(1, 9))})


def a_scan(code: str, at: datetime, **changes: Any) -> Scan:
    """A valid scan of a_booking's parcel: by a courier of the destination's hub at the
    receiver's area for courier scans (IP3, D01, U0x), else by a device at the origin hub."""
    recipient = "Siti Rahma" if code == "D01" else None
    by_courier = code in COURIER_CODES
    scan = Scan(
        scan_id=uuid4(),
        code=code,
        scanned_at=at,
        location="BDO40111" if by_courier else ORIGIN_HUB,
        actor=COURIER if by_courier else "device-1",
        recipient_name=recipient,
        recipient_relationship="addressee" if recipient else None,
        hub=DESTINATION_HUB if by_courier else ORIGIN_HUB,
        by_courier=by_courier,
    )
    return replace(scan, **changes)


def hours(n: float) -> datetime:
    """A time n hours after the booking."""
    return NOW + timedelta(hours=n)


def stored_events(app: Shipments) -> list[PublicEvent]:
    """Every event the application stored, in its public form."""
    return [
        to_public(cast(DomainEvent, app.mapper.to_domain_event(item)))
        for item in app.recorder.select_notifications(start=1, limit=10_000)
    ]


def given_shipment(app: Shipments, *scans: Scan) -> str:
    """Book a shipment at NOW, record the given scans, and return its AWB."""
    awb = app.book(a_booking(), actor="seller-1", now=NOW).awb
    for scan in scans:
        app.record_scan(awb, scan, LATER)
    return awb


def when_scanned(app: Shipments, awb: str, scan: Scan, now: datetime = LATER) -> list[PublicEvent]:
    """Record one scan and return the events it stored."""
    before = len(stored_events(app))
    app.record_scan(awb, scan, now)
    return stored_events(app)[before:]


def rejection_of(app: Shipments, awb: str, scan: Scan, now: datetime = LATER) -> str:
    """Record one scan that must be refused; return the error code (nothing may be stored)."""
    before = stored_events(app)
    try:
        app.record_scan(awb, scan, now)
    except DomainError as error:
        assert stored_events(app) == before
        return error.code
    raise AssertionError("the scan was accepted")


def opened(app: Shipments, value: str | None) -> str | None:
    """A sealed value as its owner would read it."""
    return app.sealer.unseal_many([value]).get(value) if value else None


def scan_ids(events: list[PublicEvent]) -> list[UUID]:
    return [UUID(e.data["scan_id"]) for e in events if e.type == "ScanRecorded"]

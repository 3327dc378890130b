"""What the benchmark writes: bookings and hub scans that every open shipment accepts."""

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from commands.shipments import Shipments
from domain.booking import Booking, Parcel, Party
from domain.shipments import Scan, Shipment

ACTOR = "key_bench"
HUB = "CGK10000"
TRANSIT_CODES = ("OP1", "OP2", "OP3", "TP4", "IP1", "IP2")  # never close a shipment
BATCH_SIZE = 100


def booking(n: int) -> Booking:
    return Booking(
        service="REG",
        shipper=Party(f"Budi Santoso {n}", "081234567890", f"Jl. Merdeka {n}", "CGK10110"),
        receiver=Party(f"Siti Aminah {n}", "081298765432", f"Jl. Pemuda {n}", "SUB60111"),
        parcel=Parcel(1200, 10, 10, 10, 150_000),
        cod_amount=None,
    )


def book_shipments(shipments: Shipments, count: int) -> list[str]:
    """Book `count` shipments through the application; their waybill numbers."""
    now = datetime.now(UTC)
    return [shipments.book(booking(n), actor=ACTOR, now=now).awb for n in range(count)]


def scan(i: int) -> Scan:
    return Scan(
        scan_id=uuid4(),
        code=TRANSIT_CODES[i % len(TRANSIT_CODES)],
        scanned_at=datetime.now(UTC),
        location=HUB,
        actor=ACTOR,
        hub=HUB,  # a device of the hub it scans at (domain/custody.py)
    )


def scan_json(i: int) -> dict[str, Any]:
    """The body of POST /v1/shipments/{awb}/scans."""
    return {
        "scan_id": str(uuid4()),
        "code": TRANSIT_CODES[i % len(TRANSIT_CODES)],
        "scanned_at": datetime.now(UTC).isoformat(),
        "location": HUB,
    }


def scan_batches(awbs: Sequence[str], total: int) -> list[list[tuple[str, Scan]]]:
    """`total` scans in batches of 100, each batch on distinct shipments where possible."""
    scans = [(awbs[i % len(awbs)], scan(i)) for i in range(total)]
    return [scans[i : i + BATCH_SIZE] for i in range(0, total, BATCH_SIZE)]


def store_scans(shipments: Shipments, awbs: Sequence[str], total: int) -> None:
    for batch in scan_batches(awbs, total):
        shipments.record_scans(batch, datetime.now(UTC))


class NothingToSeal:
    """The sampled event is a hub scan, which carries no personal data: nothing is sealed,
    so no keyring (and no database) is needed to make it."""

    def seal(self, subject: UUID, values: Mapping[str, str | None]) -> dict[str, str | None]:
        raise AssertionError("a hub scan has nothing to seal")

    def seal_many(
        self, values: Mapping[UUID, Mapping[str, str | None]]
    ) -> dict[UUID, dict[str, str | None]]:
        raise AssertionError("a hub scan has nothing to seal")

    def unseal_many(self, values: Iterable[str | None]) -> dict[str, str | None]:
        return {}


def sample_stored_event() -> tuple[str, bytes]:
    """(topic, state) of a real ScanRecorded event, as the event store would write it."""
    app = Shipments(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, sealer=NothingToSeal())
    now = datetime.now(UTC)
    shipment = Shipment(
        id=uuid4(),
        awb="JL000000000000",
        booking=booking(0).facts(),  # never stored: only the scan event below is sampled
        booked_at=now,
        booked_by=ACTOR,
        shipper_account=None,
        receiver_account=None,
    )
    shipment.record_scan(scan(0), now, app.sealer)
    stored = app.mapper.to_stored_event(shipment.collect_events()[-1])
    app.close()
    return stored.topic, stored.state


def raw_rows(count: int, aggregates: int = 200) -> list[tuple[UUID, int, str, bytes]]:
    """Rows shaped like shipments_events rows: `aggregates` streams, versions 1, 2, ..."""
    topic, state = sample_stored_event()
    ids = [uuid4() for _ in range(aggregates)]
    return [(ids[i % aggregates], i // aggregates + 1, topic, state) for i in range(count)]

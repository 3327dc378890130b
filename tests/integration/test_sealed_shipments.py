"""Sealed personal data on the real stack: the keyring on PostgreSQL, the relay, the broker
and the tracking projection. Plaintext exists only in the process that seals and opens it."""

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from functools import partial
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest

from api.me_models import AuditTotals, OwnedShipment, OwnedShipments
from commands.container import Applications
from consumers.registry import projection
from consumers.runner import ProjectionRunner
from consumers.verify import verify
from domain.booking import Booking
from domain.shipments import Scan, data_subject
from infra.messaging.relay import Relay
from infra.runtime.bootstrap import build_applications
from infra.settings import Settings
from projections.tracking_queries import (
    Unseal,
    audit_totals,
    owned_shipment,
    owned_shipments,
    public_documents,
)
from tests.integration.workers import read_topic, running
from tests.support import BOOKED_AT, LATER, T0, booking, courier_scan, wait_until

TRACKING = projection("tracking")
SIGNED_BY = "Rahmat Hidayat"
PERSONAL = [
    "Budi Santoso 1",
    "Jl. Merdeka 1",
    "budi.santoso@example.id",
    "Siti Aminah 1",
    "Jl. Pemuda 1",
    "siti.aminah@example.id",
    "081234567890",
    "081298765432",
    SIGNED_BY,
]


@dataclass
class Booked:
    apps: Applications
    database_url: str
    shipper: UUID
    receiver: UUID
    awb: str  # booked by the two accounts, delivered
    walk_in: str  # booked with no accounts, COD
    published: list[bytes]


def with_emails(plain: Booking) -> Booking:
    return replace(
        plain,
        shipper=replace(plain.shipper, email="budi.santoso@example.id"),
        receiver=replace(plain.receiver, email="siti.aminah@example.id"),
    )


def delivery() -> Scan:
    return courier_scan("D01", T0, recipient_name=SIGNED_BY, recipient_relationship="addressee")


def project(apps: Applications, settings: Settings, projected: int = 0) -> list[bytes]:
    """Relay and project every event stored after the first `projected` ones; the messages
    the topic then holds."""
    stored = apps.shipments.recorder.max_notification_id() or 0
    runner = ProjectionRunner(TRACKING, settings)
    with running(Relay(apps.shipments, settings)), running(runner):
        assert wait_until(lambda: runner.applied == stored - projected, timeout=60)
        return [message.value() for message in read_topic(settings, expected=stored)]


@pytest.fixture
def booked(settings: Settings, database_url: str) -> Iterator[Booked]:
    """Two shipments, stored, published and projected."""
    apps = build_applications(settings)
    shipper, receiver = uuid4(), uuid4()
    book = partial(apps.shipments.book, actor="key_test", now=BOOKED_AT)
    awb = book(with_emails(booking(1)), shipper_account=shipper, receiver_account=receiver).awb
    apps.shipments.record_scan(awb, courier_scan("IP3", T0 - timedelta(minutes=5)), LATER)
    apps.shipments.record_scan(awb, delivery(), LATER)
    walk_in = book(booking(2, cod=75_000)).awb
    published = project(apps, settings)
    yield Booked(apps, database_url, shipper, receiver, awb, walk_in, published)
    apps.close()


def connect(booked: Booked) -> psycopg.Connection[Any]:
    return psycopg.connect(booked.database_url, autocommit=True)


def unseal(booked: Booked, conn: psycopg.Connection[Any]) -> Unseal:
    return partial(booked.apps.keyring.unseal_many, conn=conn)


def shipment_id(booked: Booked, awb: str) -> UUID:
    shipment_id: UUID = booked.apps.shipments.shipment(awb).id
    return shipment_id


def test_no_plaintext_in_the_event_store_on_the_topic_or_in_the_read_model(
    booked: Booked,
) -> None:
    with connect(booked) as conn:
        stored = b"".join(
            bytes(s) for (s,) in conn.execute("SELECT state FROM shipments.shipments_events")
        )
        rows = conn.execute("SELECT t::text FROM tracking_shipments t").fetchall()
        rows += conn.execute("SELECT t::text FROM tracking_scans t").fetchall()
    tracked = "\n".join(text for (text,) in rows)

    assert len(booked.published) == 6
    for value in PERSONAL:
        assert value.encode() not in stored
        assert all(value.encode() not in message for message in booked.published)
        assert value not in tracked


def test_owned_shipments_show_the_full_detail_to_the_shipper_and_the_receiver_only(
    booked: Booked,
) -> None:
    with connect(booked) as conn:
        as_shipper = owned_shipments(conn, booked.shipper, unseal(booked, conn), limit=10)
        as_receiver = owned_shipments(conn, booked.receiver, unseal(booked, conn), limit=10)
        stranger = uuid4()
        assert owned_shipments(conn, stranger, unseal(booked, conn), limit=10) == []
        assert owned_shipment(conn, stranger, booked.awb, unseal(booked, conn)) is None
        assert owned_shipment(conn, booked.shipper, booked.walk_in, unseal(booked, conn)) is None
        one = owned_shipment(conn, booked.receiver, booked.awb, unseal(booked, conn))

    [mine] = [OwnedShipment(**row) for row in as_shipper]
    assert (mine.awb, mine.role, mine.status) == (booked.awb, "shipper", "delivered")
    assert mine.shipper.model_dump() == {
        "name": "Budi Santoso 1",
        "phone": "081234567890",
        "address": "Jl. Merdeka 1",
        "email": "budi.santoso@example.id",
        "area": "CGK10110",
        "city": "JAKARTA",
    }
    assert (mine.receiver.name, mine.receiver.email) == ("Siti Aminah 1", "siti.aminah@example.id")
    assert (mine.pod_receiver_name, mine.parcel.declared_value) == (SIGNED_BY, 150_000)
    assert [scan.code for scan in mine.history] == ["IP3", "D01"]
    [theirs] = as_receiver
    assert theirs["role"] == "receiver"
    assert one is not None
    assert OwnedShipment(**one).receiver == mine.receiver


def test_erasing_a_subject_blanks_its_data_everywhere_and_leaves_the_audit_totals(
    booked: Booked,
) -> None:
    keyring = booked.apps.keyring
    with connect(booked) as conn:
        totals = audit_totals(conn)
        keyring.destroy(booked.shipper)
        keyring.destroy(data_subject(shipment_id(booked, booked.walk_in), "receiver"))

        answers = public_documents(conn, [booked.awb, booked.walk_in], keyring.open_sealed)
        public = {awb: json.loads(answer) for awb, answer in answers.items()}
        [owned] = owned_shipments(conn, booked.receiver, unseal(booked, conn), limit=10)

        assert audit_totals(conn) == totals
        assert verify(conn, TRACKING, [booked.apps.shipments]) == []

    assert AuditTotals(**totals).model_dump() == {
        "shipments": 2,
        "by_status": {"delivered": 1, "info_received": 1},
        "by_service": {"REG": 2},
        "cod_amount_total": 75_000,
        "declared_value_total": 300_000,
    }
    names = ("shipper_name", "receiver_name", "pod_receiver_name")
    assert [public[booked.awb][n] for n in names] == [None, "S*** A*** 1***", "R*** H***"]
    assert [public[booked.walk_in][n] for n in names] == ["B*** S*** 2***", None, None]
    shipper = OwnedShipment(**owned).shipper
    assert (shipper.name, shipper.phone, shipper.address, shipper.email) == (None,) * 4
    assert (shipper.area, shipper.city) == ("CGK10110", "JAKARTA")


def test_the_owners_pages_run_newest_first_without_gaps(booked: Booked, settings: Settings) -> None:
    book = partial(booked.apps.shipments.book, actor="key_test", shipper_account=booked.shipper)
    for n in range(3, 6):
        book(booking(n), now=BOOKED_AT + timedelta(minutes=n))
    for n in range(6, 8):
        book(booking(n), now=BOOKED_AT)  # booked at the same moment as the first one
    project(booked.apps, settings, projected=len(booked.published))

    pages: list[list[str]] = []
    with connect(booked) as conn:
        before = None
        while page := owned_shipments(conn, booked.shipper, unseal(booked, conn), 2, before):
            pages.append([row["awb"] for row in page])
            before = OwnedShipments.page(page, 2).next_before
            if before is None:
                break
        everything = owned_shipments(conn, booked.shipper, unseal(booked, conn), limit=100)

    assert [len(page) for page in pages] == [2, 2, 2]
    assert [awb for page in pages for awb in page] == [row["awb"] for row in everything]
    assert [row["booked_at"] for row in everything] == sorted(
        (row["booked_at"] for row in everything), reverse=True
    )

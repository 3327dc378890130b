"""The public tracking document the projection keeps ready: served as stored, equal to
the answer written out by hand below, free of personal data at rest, blanked by erasure;
and a batch that mixes redelivered and new events applies only the new ones."""

from collections.abc import Iterator
from datetime import timedelta
from uuid import uuid4

import psycopg
import pytest
from confluent_kafka import Consumer, TopicPartition
from fastapi.testclient import TestClient

from api.app import create_app
from commands.container import Container
from consumers.registry import projection
from consumers.runner import ProjectionRunner, group_id
from consumers.verify import verify
from domain.shipments import Scan, data_subject
from infra.messaging.kafka import consumer_config, topic_for
from infra.messaging.relay import Relay
from infra.runtime.bootstrap import bootstrap
from infra.settings import Settings
from tests.integration.workers import running
from tests.support import (
    BOOKED_AT,
    LATER,
    T0,
    book_and_scan,
    booking,
    courier_scan,
    transit_scan,
    wait_until,
)

TRACKING = projection("tracking")


@pytest.fixture
def container(settings: Settings) -> Iterator[Container]:
    container = bootstrap(settings)
    yield container
    container.close()


def project(
    container: Container, settings: Settings, projected: int = 0, redelivered: int = 0
) -> ProjectionRunner:
    """Relay and project every event stored after the first `projected`, and skip the
    `redelivered` ones; the runner, stopped."""
    stored = container.shipments.recorder.max_notification_id() or 0
    runner = ProjectionRunner(TRACKING, settings)
    with running(Relay(container.shipments, settings)), running(runner):
        assert wait_until(
            lambda: (runner.applied, runner.skipped) == (stored - projected, redelivered),
            timeout=60,
        )
    return runner


def scan(code: str, minutes: int, location: str, **delivered: str) -> Scan:
    """A hub device's scan at `location`, or a courier's for IP3 and D01."""
    at = T0 + timedelta(minutes=minutes)
    if code in ("IP3", "D01"):
        return courier_scan(code, at, location, **delivered)
    return Scan(uuid4(), code, at, location, "key_test", hub=location, **delivered)  # type: ignore[arg-type]


def entry(minutes: int, code: str, description: str, status: str, city: str) -> dict[str, object]:
    at = f"2026-11-25T01:{minutes:02d}:00Z"
    return {
        "scanned_at": at,
        "code": code,
        "description": description,
        "status": status,
        "reason": None,
        "city": city,
    }


def test_the_served_answer_is_the_document_written_out_by_hand(
    container: Container, settings: Settings
) -> None:
    shipments = container.shipments
    awb = shipments.book(booking(7), actor="key_test", now=BOOKED_AT).awb
    signed = {"recipient_name": "Rahmat Hidayat", "recipient_relationship": "addressee"}
    for late in (
        scan("IP3", 20, "SUB60111"),
        scan("D01", 30, "SUB60111", **signed),
        scan("OP1", 10, "CGK10000"),  # uploaded late by the hub
    ):
        shipments.record_scan(awb, late, LATER)
    first = project(container, settings)  # one batch: folded in memory from the booking on
    shipments.record_scan(awb, scan("OP2", 5, "CGK10000"), LATER)  # after the delivery
    project(container, settings, first.applied)  # folded into the row the first batch wrote

    with TestClient(create_app(container)) as client:
        answer = client.get(f"/v1/track/{awb}")
        many = client.get("/v1/track", params={"awb": f"{awb},JL0"})

    delivered_at = "2026-11-25T01:30:00Z"
    expected = {
        "awb": awb,
        "service": "REG",
        "origin_city": "JAKARTA",
        "destination_city": "SURABAYA",
        "shipper_name": "B*** S*** 7***",
        "receiver_name": "S*** A*** 7***",
        "weight_grams": 1200,
        "cod": False,
        "booked_at": "2026-11-25T00:00:00Z",
        "status": "delivered",
        "status_reason": None,
        "status_at": delivered_at,
        "delivered_at": delivered_at,
        "pod_receiver_name": "R*** H***",
        "pod_relationship": "addressee",
        "history": [
            entry(5, "OP2", "processed at sorting centre", "in_transit", "JAKARTA"),
            entry(10, "OP1", "received at sorting centre", "in_transit", "JAKARTA"),
            entry(20, "IP3", "with delivery courier", "out_for_delivery", "SURABAYA"),
            entry(30, "D01", "delivered", "delivered", "SURABAYA"),
        ],
        "status_mapping_version": 1,
    }
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == expected
    assert many.json() == {"shipments": [expected], "not_found": [], "invalid": ["JL0"]}


def test_the_stored_document_holds_nothing_personal_and_erasure_blanks_the_answer(
    container: Container, settings: Settings, database_url: str
) -> None:
    shipments = container.shipments
    awb = shipments.book(booking(3), actor="key_test", now=BOOKED_AT).awb
    shipments.record_scan(awb, scan("IP3", 20, "SUB60111"), LATER)
    shipments.record_scan(awb, scan("D01", 30, "SUB60111", recipient_name="Rahmat"), LATER)
    project(container, settings)
    shipment_id = shipments.shipment(awb).id

    with psycopg.connect(database_url, autocommit=True) as conn:
        [(stored,)] = conn.execute("SELECT public::text FROM tracking_shipments").fetchall()
    with TestClient(create_app(container)) as client:
        before = client.get(f"/v1/track/{awb}").json()
        for role in ("shipper", "receiver"):
            container.keyring.destroy(data_subject(shipment_id, role))
        after = client.get(f"/v1/track/{awb}").json()

    for personal in ("Budi", "Siti", "Rahmat", "B***", "S***", "R***", "pii1:", "Merdeka"):
        assert personal not in stored
    assert [before[n] for n in ("shipper_name", "receiver_name")] == [
        "B*** S*** 3***",
        "S*** A*** 3***",
    ]
    assert [after[n] for n in ("shipper_name", "receiver_name")] == [None, None]
    assert (after["status"], after["history"]) == (before["status"], before["history"])


def rewind(settings: Settings) -> None:
    """As if the broker had forgotten the group's offsets: everything is delivered again."""
    rewinder = Consumer(consumer_config(settings, group_id(settings, TRACKING, 1)))
    partitions = range(settings.kafka_partitions)
    topic = topic_for(settings, "shipments")
    rewinder.commit(offsets=[TopicPartition(topic, p, 0) for p in partitions], asynchronous=False)
    rewinder.close()


def test_a_batch_of_redelivered_and_new_events_applies_only_the_new(
    container: Container, settings: Settings, database_url: str
) -> None:
    shipments = container.shipments
    awbs = book_and_scan(shipments, 20, rounds=3)
    old = project(container, settings).applied
    rewind(settings)
    shipments.record_scans([(awb, transit_scan(10)) for awb in awbs], LATER)

    second = project(container, settings, projected=old, redelivered=old)

    assert (second.skipped, second.applied) == (old, len(awbs))
    with psycopg.connect(database_url, autocommit=True) as conn:
        counts = conn.execute("SELECT DISTINCT scan_count FROM tracking_shipments").fetchall()
        assert counts == [(4,)]
        assert verify(conn, TRACKING, [shipments]) == []

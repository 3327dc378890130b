"""Scan rules, as given (prior scans) / when (a scan) / then (new events or error code)."""

import copy
from datetime import timedelta
from uuid import uuid4

import pytest

from commands.shipments import Shipments
from domain.sealing import is_sealed
from tests.unit.builders import (
    LATER,
    NOW,
    a_scan,
    given_shipment,
    hours,
    opened,
    rejection_of,
    scan_ids,
    stored_events,
    when_scanned,
)


def test_scan_of_a_booked_shipment_is_recorded_with_its_raw_code(app: Shipments) -> None:
    awb = given_shipment(app)
    scan = a_scan("OP1", hours(2), location="SUB60111", hub="SUB60111")

    [event] = when_scanned(app, awb, scan)

    assert event.type == "ScanRecorded"
    assert event.aggregate_version == 2
    assert event.data["scan_id"] == str(scan.scan_id)
    assert (event.data["code"], event.data["kind"]) == ("OP1", "arrived_at_hub")
    assert event.data["scanned_at"] == "2026-11-25T10:00:00+00:00"
    assert event.data["location"] == "SUB60111"


def test_scan_after_delivery_is_rejected(app: Shipments) -> None:
    awb = given_shipment(app, a_scan("IP3", hours(1)), a_scan("D01", hours(2)))

    assert rejection_of(app, awb, a_scan("IP3", hours(3))) == "shipment_closed"


def test_scan_timed_at_the_delivery_itself_is_rejected(app: Shipments) -> None:
    awb = given_shipment(app, a_scan("IP3", hours(1)), a_scan("D01", hours(2)))

    assert rejection_of(app, awb, a_scan("IP1", hours(2))) == "shipment_closed"


def test_late_scan_timed_before_the_delivery_is_accepted(app: Shipments) -> None:
    awb = given_shipment(app, a_scan("IP3", hours(2)), a_scan("D01", hours(5)))
    late = a_scan("OP1", hours(1))  # before the courier took it

    [event] = when_scanned(app, awb, late)

    assert event.data["scan_id"] == str(late.scan_id)


@pytest.mark.parametrize("closing", ["D01", "R01"])
@pytest.mark.parametrize("second", ["D01", "R01"])
def test_second_closing_scan_is_rejected_even_when_timed_earlier(
    app: Shipments, closing: str, second: str
) -> None:
    awb = given_shipment(
        app, a_scan("IP3", hours(0.5)), a_scan("U04", hours(1)), a_scan(closing, hours(5))
    )

    assert rejection_of(app, awb, a_scan(second, hours(3))) == "shipment_closed"


def test_return_without_a_failed_delivery_is_rejected(app: Shipments) -> None:
    awb = given_shipment(app, a_scan("IP3", hours(1)))

    assert rejection_of(app, awb, a_scan("R01", hours(2))) == "return_without_failed_delivery"


def test_return_after_a_failed_delivery_closes_the_shipment(app: Shipments) -> None:
    awb = given_shipment(app, a_scan("IP3", hours(1)), a_scan("U06", hours(2)))

    [event] = when_scanned(app, awb, a_scan("R01", hours(3)))

    assert event.data["kind"] == "returned_to_shipper"
    assert rejection_of(app, awb, a_scan("IP3", hours(4))) == "shipment_closed"


def test_scan_more_than_five_minutes_in_the_future_is_rejected(app: Shipments) -> None:
    awb = given_shipment(app)
    now = hours(1)

    too_far = a_scan("PU1", now + timedelta(minutes=5, seconds=1))

    assert rejection_of(app, awb, too_far, now=now) == "scan_in_future"


def test_scan_up_to_five_minutes_ahead_is_accepted_as_clock_skew(app: Shipments) -> None:
    awb = given_shipment(app)
    now = hours(1)

    assert len(when_scanned(app, awb, a_scan("PU1", now + timedelta(minutes=5)), now=now)) == 1


def test_scan_before_the_booking_is_rejected(app: Shipments) -> None:
    awb = given_shipment(app)

    assert rejection_of(app, awb, a_scan("PU1", NOW - timedelta(hours=1))) == "scan_before_booking"


@pytest.mark.parametrize("name", [None, ""])
def test_delivery_without_recipient_name_is_rejected(app: Shipments, name: str | None) -> None:
    awb = given_shipment(app, a_scan("IP3", hours(1)))

    delivered = a_scan("D01", hours(2), recipient_name=name)

    assert rejection_of(app, awb, delivered) == "pod_incomplete"


def test_delivery_keeps_the_proof_of_delivery(app: Shipments) -> None:
    awb = given_shipment(app, a_scan("IP3", hours(1)))
    delivered = a_scan("D01", hours(2), latitude=-6.2, longitude=106.8)

    [event] = when_scanned(app, awb, delivered)

    assert is_sealed(event.data["recipient_name"])
    assert opened(app, event.data["recipient_name"]) == "Siti Rahma"
    assert event.data["recipient_relationship"] == "addressee"
    assert is_sealed(event.data["latitude"])
    assert is_sealed(event.data["longitude"])
    coordinates = (opened(app, event.data["latitude"]), opened(app, event.data["longitude"]))
    assert coordinates == ("-6.2", "106.8"), "where it was handed over is the receiver's data"


@pytest.mark.parametrize("code", ["XYZ", "d01", "U14", ""])
def test_unknown_scan_code_is_rejected(app: Shipments, code: str) -> None:
    awb = given_shipment(app)

    assert rejection_of(app, awb, a_scan(code, hours(1))) == "unknown_scan_code"


def test_same_scan_id_twice_is_recorded_once(app: Shipments) -> None:
    scan = a_scan("OP1", hours(1))
    awb = given_shipment(app, scan)

    assert when_scanned(app, awb, scan) == []
    outcome, _ = app.record_scan(awb, scan, LATER)
    assert (outcome.scan_id, outcome.recorded) == (scan.scan_id, False)


def test_retried_delivery_scan_is_not_reported_as_closed(app: Shipments) -> None:
    taken, delivered = a_scan("IP3", hours(1)), a_scan("D01", hours(2))
    awb = given_shipment(app, taken, delivered)

    outcome, _ = app.record_scan(awb, delivered, LATER)

    assert outcome.recorded is False
    assert scan_ids(stored_events(app)) == [taken.scan_id, delivered.scan_id]


def test_a_copy_and_its_original_change_apart(app: Shipments) -> None:
    """Copies (the aggregate cache's, a scan batch's) share only what never changes."""
    original = app.shipment(given_shipment(app, a_scan("IP3", hours(1))))
    before = (set(original.scan_ids), original.version, original.failed_attempts)
    copied = copy.deepcopy(original)

    copied.record_scan(a_scan("U04", hours(2)), LATER, app.sealer)
    copied.link_party("receiver", uuid4())

    assert (original.scan_ids, original.version, original.failed_attempts) == before
    assert (original.receiver_account, original.collect_events()) == (None, [])
    assert len(copied.scan_ids) == 2
    assert copied.failed_attempts == 1
    assert [type(e).__name__ for e in copied.collect_events()] == ["ScanRecorded", "PartyLinked"]
    original.record_scan(a_scan("OP2", hours(3)), LATER, app.sealer)
    assert len(copied.scan_ids) == 2

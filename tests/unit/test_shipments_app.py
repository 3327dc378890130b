"""Booking (idempotency, AWB collisions) and look-ups through the Shipments application."""

from collections.abc import Callable, Iterator
from uuid import uuid4

import pytest

from commands.shipments import Shipments
from domain.errors import DomainError
from domain.waybill import waybill_for
from tests.unit.builders import NOW, a_booking, stored_events


def serials_from(*values: int) -> Callable[[], int]:
    supply: Iterator[int] = iter(values)
    return lambda: next(supply)


def error_code(command: Callable[[], object]) -> str:
    with pytest.raises(DomainError) as refused:
        command()
    return refused.value.code


def test_booking_stores_the_shipment_and_claims_its_awb(app: Shipments) -> None:
    booked = app.book(a_booking(), actor="seller-1", now=NOW, serials=serials_from(42))

    assert booked.awb == waybill_for(42)
    assert [(e.type, e.data["awb"]) for e in stored_events(app)] == [
        ("ShipmentBooked", booked.awb),
        ("WaybillIssued", booked.awb),
    ]
    assert app.shipment(booked.awb).id == booked.shipment_id


def test_same_booking_key_returns_the_same_awb_and_stores_one_shipment(app: Shipments) -> None:
    first = app.book(a_booking(), actor="seller-1", now=NOW, booking_key="order-7")
    events = stored_events(app)

    again = app.book(a_booking(), actor="seller-1", now=NOW, booking_key="order-7")

    assert (again.shipment_id, again.awb) == (first.shipment_id, first.awb)
    assert stored_events(app) == events


def test_same_booking_key_for_a_different_booking_is_rejected(app: Shipments) -> None:
    app.book(a_booking(), actor="seller-1", now=NOW, booking_key="order-7")
    events = stored_events(app)

    different = a_booking(service="OKE")

    assert (
        error_code(lambda: app.book(different, actor="seller-1", now=NOW, booking_key="order-7"))
        == "idempotency_key_reused"
    )
    assert stored_events(app) == events


def test_bookings_without_a_key_are_separate_shipments(app: Shipments) -> None:
    first = app.book(a_booking(), actor="seller-1", now=NOW)
    second = app.book(a_booking(), actor="seller-1", now=NOW)

    assert first.shipment_id != second.shipment_id
    assert first.awb != second.awb


@pytest.mark.parametrize("booking_key", [None, "order-8"])
def test_awb_collision_is_retried_with_another_serial(
    app: Shipments, booking_key: str | None
) -> None:
    taken = app.book(a_booking(), actor="seller-1", now=NOW, serials=serials_from(7))

    booked = app.book(
        a_booking(service="OKE"),
        actor="seller-2",
        now=NOW,
        booking_key=booking_key,
        serials=serials_from(7, 8),
    )

    assert booked.awb == waybill_for(8)
    assert app.shipment(taken.awb).booked_by == "seller-1"
    assert app.shipment(booked.awb).booked_by == "seller-2"
    assert [e.type for e in stored_events(app)].count("ShipmentBooked") == 2


def test_booking_gives_up_when_every_serial_is_taken(app: Shipments) -> None:
    app.book(a_booking(), actor="seller-1", now=NOW, serials=lambda: 7)

    code = error_code(lambda: app.book(a_booking(), actor="seller-1", now=NOW, serials=lambda: 7))

    assert code == "booking_contention"
    assert len(stored_events(app)) == 2


@pytest.mark.parametrize(
    "awb",
    [
        waybill_for(42)[:-1] + str((int(waybill_for(42)[-1]) + 1) % 10),  # wrong check digit
        waybill_for(42).lower(),
        "JL123",
        "",
    ],
)
def test_look_up_of_an_invalid_awb_is_rejected(app: Shipments, awb: str) -> None:
    assert error_code(lambda: app.shipment(awb)) == "invalid_awb"


def test_look_up_of_an_unknown_valid_awb_is_not_found(app: Shipments) -> None:
    app.book(a_booking(), actor="seller-1", now=NOW, serials=serials_from(42))

    assert error_code(lambda: app.shipment(waybill_for(43))) == "shipment_not_found"


def test_look_up_of_an_awb_typed_in_non_ascii_digits_is_rejected_as_invalid(
    app: Shipments,
) -> None:
    full_width = "JL" + "".join(chr(ord(d) - ord("0") + 0xFF10) for d in waybill_for(42)[2:])

    assert error_code(lambda: app.shipment(full_width)) == "invalid_awb"


def test_a_party_is_linked_once_to_the_customer_who_verifies_its_address(
    app: Shipments,
) -> None:
    booked = app.book(a_booking(), actor="seller-1", now=NOW)
    customer, someone_else = uuid4(), uuid4()

    app.link_party(booked.shipment_id, "receiver", customer)
    app.link_party(booked.shipment_id, "receiver", customer)
    app.link_party(booked.shipment_id, "receiver", someone_else)

    linked = [e for e in stored_events(app) if e.type == "ShipmentPartyLinked"]
    assert [(e.schema_version, e.data) for e in linked] == [
        (1, {"role": "receiver", "account": str(customer)})
    ]
    shipment = app.shipment(booked.awb)
    assert (shipment.shipper_account, shipment.receiver_account) == (None, customer)
    assert shipment.receiver_subject == customer, "what scans add is sealed under their key"


def test_a_party_booked_under_an_account_is_not_relinked(app: Shipments) -> None:
    owner = uuid4()
    booked = app.book(a_booking(), actor="seller-1", now=NOW, shipper_account=owner)
    app.link_party(booked.shipment_id, "shipper", uuid4())
    assert app.shipment(booked.awb).shipper_account == owner
    assert "ShipmentPartyLinked" not in [e.type for e in stored_events(app)]

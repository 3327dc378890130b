"""Personal data is sealed before it is stored: under the party's account when the caller
names one, else under a subject of the shipment's own; erasing the subject's key blanks it
everywhere, while the non-personal facts stay for the auditors."""

from dataclasses import replace
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4, uuid5

import pytest

from commands.shipments import Shipments
from domain.booking import PERSONAL_FIELDS, ROLES, Party
from domain.errors import Conflict
from domain.public import PublicEvent
from domain.sealing import SubjectErased, is_sealed, subject_of
from domain.shipments import Scan
from tests.unit.builders import (
    LATER,
    NOW,
    a_booking,
    a_scan,
    given_shipment,
    hours,
    opened,
    stored_events,
    when_scanned,
)
from tests.unit.memory_keyring import MemoryKeyring

RECEIVER = Party("Wulandari Kartika", "085711122233", "Gg. Kenanga 4", "SUB60111", "wulan@x.id")
PERSONAL_VALUES = [
    "Budi Santoso",
    "081234567890",
    "Jl. Melati 1",
    "budi.santoso@example.id",
    "Wulandari Kartika",
    "085711122233",
    "Gg. Kenanga 4",
    "wulan@x.id",
    "Agus Salim",  # who signed for the delivery
]


def courier_scan(code: str, at: datetime, **changes: Any) -> Scan:
    """A scan by a courier of the receiver's city (RECEIVER lives in Surabaya)."""
    return a_scan(code, at, location="SUB60111", hub="SUB60000", **changes)


def book(
    app: Shipments, shipper_account: UUID | None = None, receiver_account: UUID | None = None
) -> str:
    return app.book(
        a_booking(receiver=RECEIVER),
        actor="seller-1",
        now=NOW,
        shipper_account=shipper_account,
        receiver_account=receiver_account,
    ).awb


def booked_event(app: Shipments) -> PublicEvent:
    return next(e for e in stored_events(app) if e.type == "ShipmentBooked")


def party_of(app: Shipments, role: str) -> dict[str, Any]:
    party: dict[str, Any] = booked_event(app).data["booking"][role]
    return party


def test_no_personal_value_appears_in_the_public_json_of_any_event(app: Shipments) -> None:
    awb = book(app)
    for code, at in [("IP3", 1), ("U04", 2), ("IP3", 3)]:
        app.record_scan(awb, courier_scan(code, hours(at)), LATER)
    app.record_scan(awb, courier_scan("D01", hours(4), recipient_name="Agus Salim"), LATER)

    published = b"\n".join(event.to_json() for event in stored_events(app))

    for value in PERSONAL_VALUES:
        # Words of five characters or more: shorter ones could turn up in ciphertext by chance.
        for part in [value, *(word for word in value.split() if len(word) >= 5)]:
            assert part.encode() not in published, part


def test_the_owner_reads_every_personal_value_back(app: Shipments) -> None:
    book(app)

    for role, party in (("shipper", a_booking().shipper), ("receiver", RECEIVER)):
        sealed = party_of(app, role)
        assert {name: opened(app, sealed[name]) for name in PERSONAL_FIELDS} == {
            name: getattr(party, name) for name in PERSONAL_FIELDS
        }


def test_a_party_without_an_account_is_sealed_under_a_subject_of_the_shipment(
    app: Shipments,
) -> None:
    book(app)
    shipment_id = UUID(booked_event(app).aggregate_id)

    for role in ROLES:
        assert subject_of(party_of(app, role)["name"]) == uuid5(shipment_id, role)


def test_a_party_with_an_account_is_sealed_under_the_account(app: Shipments) -> None:
    shipper, receiver = uuid4(), uuid4()

    book(app, shipper_account=shipper, receiver_account=receiver)

    event = booked_event(app)
    assert (event.data["shipper_account"], event.data["receiver_account"]) == (
        str(shipper),
        str(receiver),
    )
    assert {subject_of(v) for v in party_of(app, "shipper").values() if is_sealed(v)} == {shipper}
    assert {subject_of(v) for v in party_of(app, "receiver").values() if is_sealed(v)} == {receiver}


def test_after_erasure_the_party_reads_as_none_and_the_non_personal_facts_remain(
    app: Shipments, keyring: MemoryKeyring
) -> None:
    account = uuid4()
    awb = book(app, shipper_account=account)
    before = booked_event(app)

    keyring.destroy(account)

    after = booked_event(app)
    assert after == before  # the history itself never changes
    shipper, receiver = party_of(app, "shipper"), party_of(app, "receiver")
    assert [opened(app, shipper[name]) for name in PERSONAL_FIELDS] == [None] * 4
    assert opened(app, receiver["name"]) == RECEIVER.name
    booking = after.data["booking"]
    assert (after.data["awb"], booking["service"], booking["cod_amount"]) == (awb, "REG", None)
    assert booking["parcel"] == vars(a_booking().parcel)
    assert (shipper["area"], receiver["area"]) == ("CGK10110", "SUB60111")


def test_booking_for_an_erased_account_is_refused_and_stores_nothing(
    app: Shipments, keyring: MemoryKeyring
) -> None:
    account = uuid4()
    keyring.destroy(account)

    with pytest.raises(SubjectErased) as refused:
        book(app, receiver_account=account)

    assert isinstance(refused.value, Conflict)
    assert refused.value.code == "subject_erased"
    assert stored_events(app) == []


def test_retried_booking_returns_the_first_awb_though_each_sealing_differs(
    app: Shipments,
) -> None:
    first = app.book(a_booking(), actor="seller-1", now=NOW, booking_key="order-9")

    again = app.book(a_booking(), actor="seller-1", now=NOW, booking_key="order-9")

    assert again.awb == first.awb
    assert [e.type for e in stored_events(app)] == ["ShipmentBooked", "WaybillIssued"]


def test_retried_booking_with_another_email_is_refused_as_a_different_booking(
    app: Shipments,
) -> None:
    app.book(a_booking(), actor="seller-1", now=NOW, booking_key="order-9")
    other = a_booking(shipper=replace(a_booking().shipper, email="budi@other.id"))

    with pytest.raises(Conflict) as refused:
        app.book(other, actor="seller-1", now=NOW, booking_key="order-9")

    assert refused.value.code == "idempotency_key_reused"


def test_retried_booking_after_the_shipper_was_erased_is_refused(
    app: Shipments, keyring: MemoryKeyring
) -> None:
    account = uuid4()
    app.book(a_booking(), actor="seller-1", now=NOW, booking_key="k-1", shipper_account=account)
    keyring.destroy(account)

    with pytest.raises(SubjectErased):
        app.book(a_booking(), actor="seller-1", now=NOW, booking_key="k-1")


def test_the_recipients_name_is_sealed_under_the_receivers_account(app: Shipments) -> None:
    receiver = uuid4()
    awb = book(app, receiver_account=receiver)

    app.record_scan(awb, courier_scan("IP3", hours(0.5)), LATER)
    [event] = when_scanned(
        app, awb, courier_scan("D01", hours(1), recipient_name="Agus Salim", latitude=-7.25)
    )

    assert subject_of(event.data["recipient_name"]) == receiver
    assert opened(app, event.data["recipient_name"]) == "Agus Salim"
    assert subject_of(event.data["latitude"]) == receiver
    assert event.data["longitude"] is None


def test_a_retried_delivery_after_the_receiver_was_erased_is_still_recorded_once(
    app: Shipments, keyring: MemoryKeyring
) -> None:
    receiver = uuid4()
    awb = book(app, receiver_account=receiver)
    delivery = courier_scan("D01", hours(1))
    app.record_scan(awb, courier_scan("IP3", hours(0.5)), LATER)
    app.record_scan(awb, delivery, LATER)
    keyring.destroy(receiver)

    outcome, _ = app.record_scan(awb, delivery, LATER)

    assert outcome.recorded is False


def test_a_delivery_to_an_erased_receiver_is_recorded_without_the_name(
    app: Shipments, keyring: MemoryKeyring
) -> None:
    receiver = uuid4()
    awb = book(app, receiver_account=receiver)
    app.record_scan(awb, courier_scan("IP3", hours(0.5)), LATER)
    keyring.destroy(receiver)

    [event] = when_scanned(app, awb, courier_scan("D01", hours(1), latitude=-6.2, longitude=106.8))

    assert (event.data["kind"], event.data["recipient_name"]) == ("delivered", None)
    assert (event.data["latitude"], event.data["longitude"]) == (None, None)
    assert event.data["recipient_relationship"] == "addressee"


def test_a_scan_without_a_recipient_seals_nothing(app: Shipments) -> None:
    awb = given_shipment(app)

    [event] = when_scanned(app, awb, a_scan("OP1", hours(1)))

    assert (event.data["recipient_name"], event.data["latitude"], event.data["longitude"]) == (
        None,
        None,
        None,
    )

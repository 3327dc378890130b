"""The public JSON form of stored events: the contract with stream consumers."""

import json
from dataclasses import replace
from typing import cast

import pytest
from eventsourcing.domain import DomainEvent
from hypothesis import given, settings
from hypothesis import strategies as st

from commands.shipments import Shipments
from domain.booking import PERSONAL_FIELDS, ROLES
from domain.public import PublicEvent, to_public
from domain.sealing import is_sealed
from tests.unit.builders import a_booking, a_scan, given_shipment, hours, opened, stored_events


def test_public_types_are_named_with_their_schema_versions(app: Shipments) -> None:
    given_shipment(app, a_scan("PU1", hours(1)))

    assert [(e.type, e.schema_version) for e in stored_events(app)] == [
        ("ShipmentBooked", 2),
        ("WaybillIssued", 1),
        ("ScanRecorded", 4),
    ]


def test_stored_events_round_trip_through_public_json(app: Shipments) -> None:
    given_shipment(app, a_scan("IP3", hours(1)), a_scan("D01", hours(2), latitude=-6.2))

    for event in stored_events(app):
        raw = event.to_json()

        assert PublicEvent.from_json(raw) == event
        assert set(json.loads(raw)) == {
            "type",
            "schema_version",
            "aggregate_id",
            "aggregate_version",
            "occurred_at",
            "data",
        }


def test_booked_event_holds_non_personal_facts_plain_and_the_parties_sealed(
    app: Shipments,
) -> None:
    awb = given_shipment(app)
    facts = json.loads(json.dumps(a_booking().facts()))

    booked, issued = stored_events(app)

    booking = booked.data.pop("booking")
    assert booked.data == {
        "awb": awb,
        "booked_at": "2026-11-25T08:00:00+00:00",
        "booked_by": "seller-1",
        "shipper_account": None,
        "receiver_account": None,
    }
    assert {k: booking[k] for k in ("service", "cod_amount", "parcel")} == {
        k: facts[k] for k in ("service", "cod_amount", "parcel")
    }
    for role in ROLES:
        assert set(booking[role]) == {*PERSONAL_FIELDS, "area"}
        assert booking[role]["area"] == facts[role]["area"]
        for name in PERSONAL_FIELDS:
            sealed = booking[role][name]
            assert sealed is None if facts[role][name] is None else is_sealed(sealed)
            assert opened(app, sealed) == facts[role][name]
    assert (booked.aggregate_id, booked.aggregate_version) == (issued.data["shipment_id"], 1)


def test_a_booking_stored_before_sealing_reads_back_in_the_new_shape(app: Shipments) -> None:
    given_shipment(app)
    stored = app.recorder.select_notifications(start=1, limit=1)[0]
    state = json.loads(stored.state)
    for name in ("class_version", "shipper_account", "receiver_account"):
        del state[name]
    for role in ROLES:
        del state["booking"][role]["email"]
    old = replace(stored, state=json.dumps(state).encode())

    data = to_public(cast(DomainEvent, app.mapper.to_domain_event(old))).data

    assert (data["shipper_account"], data["receiver_account"]) == (None, None)
    assert [data["booking"][role]["email"] for role in ROLES] == [None, None]


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    max_leaves=5,
)


@settings(max_examples=50)
@given(
    st.builds(
        PublicEvent,
        type=st.sampled_from(["ShipmentBooked", "ScanRecorded", "WaybillIssued"]),
        schema_version=st.integers(1, 9),
        aggregate_id=st.uuids().map(str),
        aggregate_version=st.integers(1, 10**6),
        occurred_at=st.datetimes().map(lambda d: d.isoformat()),
        data=st.dictionaries(st.text(), json_values),
    )
)
def test_any_public_event_round_trips_through_json(event: PublicEvent) -> None:
    assert PublicEvent.from_json(event.to_json()) == event


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_a_public_event_never_carries_a_float_json_cannot_express(value: float) -> None:
    event = PublicEvent("ScanRecorded", 1, "a", 1, "2026-11-25T08:00:00+00:00", {"latitude": value})
    with pytest.raises(ValueError, match="JSON compliant"):
        event.to_json()

"""Custody rules (issue 14, finding 1): who may scan a parcel where, who may end its
delivery, and which accepted scans are recorded as anomalies.

a_booking's parcel goes from Jakarta (CGK10110) to Bandung (BDO40111)."""

import json
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, cast

import pytest
from eventsourcing.domain import DomainEvent
from hypothesis import given, settings
from hypothesis import strategies as st

from commands.shipments import Shipments
from domain.custody import AT_HUB, Fact, holder
from domain.public import to_public
from domain.scans import ScanKind
from domain.shipments import Scan
from tests.unit.builders import (
    COURIER,
    LATER,
    a_scan,
    given_shipment,
    hours,
    in_memory_shipments,
    rejection_of,
    stored_events,
    when_scanned,
)

OTHER_COURIER = "account:courier-2"  # of the same hub as COURIER
JAKARTA_COURIER = {"hub": "CGK10000", "location": "CGK10110", "actor": "account:courier-cgk"}


def by(actor: str, code: str, at: datetime, **changes: Any) -> Scan:
    return a_scan(code, at, actor=actor, **changes)


# -- where a scanner may scan ------------------------------------------------------------


def test_the_issue_s_forged_delivery_by_a_jakarta_hub_key_in_jayapura_is_refused(
    app: Shipments,
) -> None:
    awb = given_shipment(app)
    forged = a_scan(
        "D01",
        hours(0.1),
        actor="key_0123456789ab",
        hub="CGK10000",
        by_courier=False,
        location="DJJ99999",
        recipient_name="Orang Lain",
    )

    assert rejection_of(app, awb, forged) == "scan_outside_hub"


@pytest.mark.parametrize("location", ["CGK10111", "CGK20000", "SUB60111"])
def test_a_hub_device_scans_only_at_its_own_hub(app: Shipments, location: str) -> None:
    awb = given_shipment(app)

    assert rejection_of(app, awb, a_scan("OP1", hours(1), location=location)) == (
        "scan_outside_hub"
    )


def test_a_hub_device_at_its_hub_is_accepted(app: Shipments) -> None:
    awb = given_shipment(app)

    [event] = when_scanned(app, awb, a_scan("OP1", hours(1), hub="CGK10110", location="CGK10110"))

    assert event.data["location"] == "CGK10110"


def test_a_courier_scans_anywhere_in_the_city_their_hub_serves(app: Shipments) -> None:
    awb = given_shipment(app)

    [event] = when_scanned(app, awb, a_scan("IP3", hours(1), location="BDO49999"))

    assert event.data["actor"] == COURIER


def test_a_courier_outside_their_hub_s_city_is_refused(app: Shipments) -> None:
    awb = given_shipment(app)

    assert rejection_of(app, awb, a_scan("IP3", hours(1), location="CGK10110")) == (
        "scan_outside_hub"
    )


def test_a_scanner_without_a_hub_is_refused(app: Shipments) -> None:
    awb = given_shipment(app)

    assert rejection_of(app, awb, a_scan("OP1", hours(1), hub=None)) == "scanner_without_hub"


# -- who holds the parcel -----------------------------------------------------------------


def test_a_parcel_cannot_jump_from_booked_to_delivered(app: Shipments) -> None:
    awb = given_shipment(app)

    assert rejection_of(app, awb, a_scan("D01", hours(1))) == "not_in_custody"


@pytest.mark.parametrize("code", ["IP3", "D01", "U04"])
def test_only_a_courier_takes_or_ends_a_delivery(app: Shipments, code: str) -> None:
    awb = given_shipment(app, a_scan("IP3", hours(1)))
    hub_device = a_scan(code, hours(2), hub="BDO40000", location="BDO40000", by_courier=False)

    assert rejection_of(app, awb, hub_device) == "courier_required"


def test_another_courier_than_the_holder_cannot_deliver(app: Shipments) -> None:
    awb = given_shipment(app, a_scan("IP3", hours(1)))

    assert rejection_of(app, awb, by(OTHER_COURIER, "D01", hours(2))) == "not_in_custody"


def test_after_a_shift_handover_only_the_new_courier_delivers(app: Shipments) -> None:
    awb = given_shipment(app, a_scan("IP3", hours(1)), by(OTHER_COURIER, "IP3", hours(2)))

    assert rejection_of(app, awb, a_scan("D01", hours(3))) == "not_in_custody"
    [event] = when_scanned(app, awb, by(OTHER_COURIER, "D01", hours(3)))
    assert (event.data["kind"], event.data["actor"]) == ("delivered", OTHER_COURIER)


def test_an_offline_delivery_synced_after_a_handover_counts_if_held_at_its_time(
    app: Shipments,
) -> None:
    awb = given_shipment(app, a_scan("IP3", hours(1)), by(OTHER_COURIER, "IP3", hours(3)))

    [event] = when_scanned(app, awb, a_scan("U04", hours(2)))

    assert event.data["kind"] == "delivery_failed"
    assert app.shipment(awb).holder(hours(2.5)) == COURIER
    assert app.shipment(awb).holder(hours(3)) == OTHER_COURIER


def test_a_parcel_back_at_a_hub_is_no_longer_with_the_courier(app: Shipments) -> None:
    back = a_scan("IP1", hours(3), hub="BDO40000", location="BDO40000")
    awb = given_shipment(app, a_scan("IP3", hours(1)), a_scan("U04", hours(2)), back)

    assert rejection_of(app, awb, a_scan("D01", hours(4))) == "not_in_custody"
    assert app.shipment(awb).holder(hours(4)) is None


def test_a_late_handover_that_would_unmake_a_recorded_delivery_is_refused(
    app: Shipments,
) -> None:
    """B took the parcel at 1 h and delivered it at 3 h; A's phone then syncs a take at 2 h.
    Accepting it would leave a delivery by a courier who did not hold the parcel."""
    awb = given_shipment(
        app, by(OTHER_COURIER, "IP3", hours(1)), by(OTHER_COURIER, "D01", hours(3))
    )

    assert rejection_of(app, awb, a_scan("IP3", hours(2))) == "custody_conflict"
    hub = a_scan("IP1", hours(2), hub="BDO40000", location="BDO40000")
    assert rejection_of(app, awb, hub) == "custody_conflict"
    assert app.shipment(awb).holder(hours(3)) == OTHER_COURIER


def test_a_late_scan_timed_before_the_courier_took_it_keeps_the_delivery(app: Shipments) -> None:
    awb = given_shipment(app, a_scan("IP3", hours(2)), a_scan("D01", hours(3)))

    [event] = when_scanned(app, awb, a_scan("IP1", hours(1), hub="BDO40000", location="BDO40000"))

    assert event.data["code"] == "IP1"
    assert app.shipment(awb).holder(hours(3)) == COURIER


def test_a_delivery_outside_the_destination_city_is_refused(app: Shipments) -> None:
    awb = given_shipment(app, by(JAKARTA_COURIER["actor"], "IP3", hours(1), **_jakarta()))

    delivery = by(JAKARTA_COURIER["actor"], "D01", hours(2), **_jakarta())

    assert rejection_of(app, awb, delivery) == "delivery_outside_destination"


def _jakarta() -> dict[str, str]:
    return {"hub": JAKARTA_COURIER["hub"], "location": JAKARTA_COURIER["location"]}


T0 = hours(1)
facts = st.lists(
    st.builds(
        Fact,
        scanned_at=st.integers(0, 40).map(lambda m: T0 + timedelta(minutes=m)),
        kind=st.sampled_from(list(ScanKind)),
        location=st.just("BDO40000"),
        actor=st.sampled_from(["account:a", "account:b", "key_1"]),
    ),
    max_size=12,
).map(lambda found: sorted(found, key=lambda f: f.scanned_at))


@settings(max_examples=200, deadline=None)
@given(facts, st.integers(0, 45))
def test_the_holder_is_the_courier_of_the_last_handover_no_hub_has_undone(
    history: list[Fact], minute: int
) -> None:
    at = T0 + timedelta(minutes=minute)
    upto = [f for f in history if f.scanned_at <= at]
    takes = [i for i, f in enumerate(upto) if f.kind is ScanKind.WITH_COURIER]
    returns = [i for i, f in enumerate(upto) if f.kind in AT_HUB]
    undone = not takes or (returns and returns[-1] > takes[-1])
    expected = None if undone else upto[takes[-1]].actor

    assert holder(history, at) == expected


# -- outcomes decided in any arrival order stay one holder --------------------------------


@settings(max_examples=40, deadline=None)
@given(st.permutations(["a", "b", "c", "d"]))
def test_whatever_order_scans_arrive_in_an_outcome_is_only_ever_by_its_holder(
    order: list[str],
) -> None:
    """a: COURIER takes it at 1 h; b: OTHER_COURIER at 3 h; c: COURIER fails at 2 h;
    d: OTHER_COURIER delivers at 4 h. Each outcome is accepted only once its holder's
    "with courier" scan is known, and then whatever else arrived."""
    app = in_memory_shipments()
    awb = given_shipment(app)
    scans = {
        "a": a_scan("IP3", hours(1)),
        "b": by(OTHER_COURIER, "IP3", hours(3)),
        "c": a_scan("U04", hours(2)),
        "d": by(OTHER_COURIER, "D01", hours(4)),
    }
    needs = {"c": "a", "d": "b"}
    seen: set[str] = set()
    for name in order:
        if name in needs and needs[name] not in seen:
            assert rejection_of(app, awb, scans[name]) == "not_in_custody"
            continue
        app.record_scan(awb, scans[name], LATER)
        seen.add(name)

    kinds = [(e.data["kind"], e.data["actor"]) for e in stored_events(app) if "kind" in e.data]
    for kind, actor in kinds:
        if kind == "delivery_failed":
            assert actor == COURIER
        if kind == "delivered":
            assert actor == OTHER_COURIER


# -- anomalies: accepted, and recorded for staff ------------------------------------------


def test_an_arrival_at_a_hub_off_the_route_is_accepted_as_a_misroute(app: Shipments) -> None:
    awb = given_shipment(app)
    arrival = a_scan("IP1", hours(2), hub="SUB60000", location="SUB60000")

    [event] = when_scanned(app, awb, arrival)

    assert "misroute" in event.data["anomalies"]


def test_a_parcel_turning_up_in_another_city_without_departing_is_a_location_jump(
    app: Shipments,
) -> None:
    awb = given_shipment(app, a_scan("OP1", hours(1)))

    [event] = when_scanned(app, awb, a_scan("IP3", hours(2)))

    assert event.data["anomalies"] == ["location_jump"]


def test_a_journey_along_its_route_records_no_anomaly(app: Shipments) -> None:
    journey = [
        a_scan("RC1", hours(1)),
        a_scan("OP1", hours(2)),
        a_scan("OP3", hours(3)),
        a_scan("IP1", hours(8), hub="BDO40000", location="BDO40000"),
        a_scan("IP3", hours(9)),
        a_scan("D01", hours(10)),
    ]
    awb = given_shipment(app)

    for scan in journey:
        [event] = when_scanned(app, awb, scan)
        assert event.data["anomalies"] == [], scan.code


def test_a_late_hub_upload_slots_in_by_scan_time_without_anomaly(app: Shipments) -> None:
    awb = given_shipment(app, a_scan("RC1", hours(1)), a_scan("OP3", hours(3)))

    [event] = when_scanned(app, awb, a_scan("OP1", hours(2)), now=hours(9))

    assert event.data["anomalies"] == []


# -- the recipient's relationship ----------------------------------------------------------


@pytest.mark.parametrize("relationship", ["YANG BERSANGKUTAN", "Addressee", "", "boss"])
def test_a_relationship_outside_the_fixed_list_is_refused(
    app: Shipments, relationship: str
) -> None:
    awb = given_shipment(app, a_scan("IP3", hours(1)))

    delivery = a_scan("D01", hours(2), recipient_relationship=relationship)

    assert rejection_of(app, awb, delivery) == "invalid_relationship"


@pytest.mark.parametrize(
    "relationship", ["addressee", "family", "colleague", "neighbour", "security", "other"]
)
def test_each_listed_relationship_is_accepted(app: Shipments, relationship: str) -> None:
    awb = given_shipment(app, a_scan("IP3", hours(1)))

    [event] = when_scanned(app, awb, a_scan("D01", hours(2), recipient_relationship=relationship))

    assert event.data["recipient_relationship"] == relationship


def test_a_scan_stored_before_custody_reads_back_with_no_anomaly_and_its_free_text(
    app: Shipments,
) -> None:
    given_shipment(app, a_scan("OP1", hours(1)))
    stored = app.recorder.select_notifications(start=1, limit=3)[-1]
    state = json.loads(stored.state)
    del state["anomalies"]
    del state["class_version"]
    state["recipient_relationship"] = "YANG BERSANGKUTAN"
    state["actor"] = "key_0123456789ab"
    old = replace(stored, state=json.dumps(state).encode())

    data = to_public(cast(DomainEvent, app.mapper.to_domain_event(old))).data

    assert data["anomalies"] == []
    assert (data["recipient_relationship"], data["actor"]) == (
        "YANG BERSANGKUTAN",
        "key_0123456789ab",
    )


# -- found by review: a first scan far from the booking, backdated outcomes, returns --------


def test_a_first_scan_far_from_where_the_parcel_was_booked_is_a_location_jump(
    app: Shipments,
) -> None:
    """A destination courier 'taking' a parcel that never left Jakarta is shown to staff."""
    awb = given_shipment(app)

    [event] = when_scanned(app, awb, a_scan("IP3", hours(0.1)))

    assert event.data["anomalies"] == ["location_jump"]


def test_a_first_scan_where_the_parcel_was_booked_is_no_anomaly(app: Shipments) -> None:
    awb = given_shipment(app)

    [event] = when_scanned(app, awb, a_scan("RC1", hours(0.1)))

    assert event.data["anomalies"] == []


def test_a_delivery_timed_before_the_parcel_went_back_to_a_hub_is_refused(
    app: Shipments,
) -> None:
    """A held the parcel at 1 h; it was back at the hub at 3 h and B took it at 4 h. A's
    phone then claims a delivery at 2 h: the parcel was evidently not delivered then."""
    back = a_scan("IP1", hours(3), hub="BDO40000", location="BDO40000")
    awb = given_shipment(app, a_scan("IP3", hours(1)), back, by(OTHER_COURIER, "IP3", hours(4)))

    assert rejection_of(app, awb, a_scan("D01", hours(2))) == "custody_conflict"
    [event] = when_scanned(app, awb, by(OTHER_COURIER, "D01", hours(5)))
    assert event.data["actor"] == OTHER_COURIER, "the real holder still delivers"


def test_a_return_is_recorded_only_in_the_origin_city(app: Shipments) -> None:
    awb = given_shipment(app, a_scan("IP3", hours(1)), a_scan("U04", hours(2)))
    at_destination = a_scan("R01", hours(5), hub="BDO40000", location="BDO40000")

    assert rejection_of(app, awb, at_destination) == "return_outside_origin"
    [event] = when_scanned(app, awb, a_scan("R01", hours(9)))
    assert event.data["kind"] == "returned_to_shipper"

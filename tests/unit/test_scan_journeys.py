"""Properties of whole journeys whose scans arrive in any order, some of them twice."""

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.scans import SCAN_CODES
from domain.shipments import Scan
from tests.unit.builders import (
    LATER,
    a_scan,
    given_shipment,
    hours,
    in_memory_shipments,
    rejection_of,
    scan_ids,
    stored_events,
)

FAILURES = sorted(code for code in SCAN_CODES if code.startswith("U"))
TRANSIT = ["OP1", "OP2", "OP3", "TP4", "IP1", "IP2"]


@st.composite
def journeys(draw: st.DrawFn) -> list[Scan]:
    """A valid journey, scans timed in order: transit, delivery attempts, then D01 or R01."""
    codes = ["PU1", "RC1", *draw(st.lists(st.sampled_from(TRANSIT), max_size=6))]
    failures = draw(st.lists(st.sampled_from(FAILURES), max_size=3))
    for failure in failures:
        codes += ["IP3", failure]
    returned = bool(failures) and draw(st.booleans())
    codes += ["R01"] if returned else ["IP3", "D01"]
    return [a_scan(code, hours(1 + i)) for i, code in enumerate(codes)]


def _after_its_custody(order: list[Scan], journey: list[Scan]) -> list[Scan]:
    """Move each outcome after the "with courier" scan before it in the journey: a device
    whose outcome is refused (not yet in custody as far as Jalur knows) retries later."""
    for i, scan in enumerate(journey):
        if scan.code.startswith(("U", "D")):
            taken = journey[i - 1]
            if order.index(scan) < order.index(taken):
                order.remove(scan)
                order.insert(order.index(taken) + 1, scan)
    return order


@st.composite
def arrivals(draw: st.DrawFn) -> tuple[list[Scan], list[Scan]]:
    """(journey, arrival order): shuffled, with retries; an outcome arrives after the
    courier took the parcel, a return after a failure."""
    journey = draw(journeys())
    order = _after_its_custody(draw(st.permutations(journey)), journey)
    closing = journey[-1]
    if closing.code == "R01":
        first_failure = min(i for i, s in enumerate(order) if s.code.startswith("U"))
        if order.index(closing) < first_failure:
            order.remove(closing)
            order.append(closing)
    retries = draw(st.lists(st.sampled_from(journey), max_size=4))
    return journey, order + retries


@settings(max_examples=40)
@given(arrivals())
def test_any_arrival_order_stores_each_scan_once_with_contiguous_versions(
    sent: tuple[list[Scan], list[Scan]],
) -> None:
    journey, arrival = sent
    app = in_memory_shipments()
    awb = given_shipment(app)

    recorded = [app.record_scan(awb, scan, LATER)[0].recorded for scan in arrival]

    events = [e for e in stored_events(app) if e.type != "WaybillIssued"]
    assert sorted(scan_ids(events)) == sorted(s.scan_id for s in journey)
    assert [e.aggregate_version for e in events] == list(range(1, len(journey) + 2))
    assert recorded == [True] * len(journey) + [False] * (len(arrival) - len(journey))


@settings(max_examples=25)
@given(journeys(), st.sampled_from(sorted(SCAN_CODES)), st.integers(0, 600))
def test_after_the_closing_scan_nothing_timed_at_or_after_it_is_accepted(
    journey: list[Scan], code: str, minutes_after: int
) -> None:
    app = in_memory_shipments()
    awb = given_shipment(app, *journey)
    closed_at = journey[-1].scanned_at

    extra = a_scan(code, closed_at + timedelta(minutes=minutes_after), recipient_name="Siti")

    assert rejection_of(app, awb, extra) == "shipment_closed"


@settings(max_examples=25)
@given(journeys(), st.sampled_from(["D01", "R01"]), st.integers(1, 60))
def test_no_second_closing_scan_even_timed_before_the_first(
    journey: list[Scan], code: str, minutes_before: int
) -> None:
    app = in_memory_shipments()
    awb = given_shipment(app, *journey)

    extra = a_scan(code, journey[-1].scanned_at - timedelta(minutes=minutes_before))

    assert rejection_of(app, awb, extra) == "shipment_closed"

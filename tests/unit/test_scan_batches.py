"""record_scans: a batch is stored whole, or not at all."""

import pytest

from commands.scan_writer import ScanBatchRejected
from commands.shipments import Shipments
from domain.shipments import Scan
from domain.waybill import waybill_for
from tests.unit.builders import (
    LATER,
    a_scan,
    given_shipment,
    hours,
    scan_ids,
    stored_events,
)


def rejected_items(app: Shipments, batch: list[tuple[str, Scan]]) -> list[tuple[int, str]]:
    before = stored_events(app)
    with pytest.raises(ScanBatchRejected) as rejected:
        app.record_scans(batch, LATER)
    assert rejected.value.code == "scan_batch_rejected"
    assert stored_events(app) == before
    return [(item.index, item.code) for item in rejected.value.errors]


def test_batch_records_every_scan_across_shipments(app: Shipments) -> None:
    first, second = given_shipment(app), given_shipment(app)
    batch = [
        (first, a_scan("PU1", hours(1))),
        (second, a_scan("PU1", hours(1))),
        (first, a_scan("RC1", hours(2))),
    ]

    outcomes, _ = app.record_scans(batch, LATER)

    assert [(o.awb, o.scan_id, o.recorded) for o in outcomes] == [
        (awb, scan.scan_id, True) for awb, scan in batch
    ]
    assert sorted(scan_ids(stored_events(app))) == sorted(scan.scan_id for _, scan in batch)


def test_batch_with_an_unknown_awb_stores_nothing(app: Shipments) -> None:
    awb = given_shipment(app)
    batch = [(awb, a_scan("PU1", hours(1))), (waybill_for(99), a_scan("PU1", hours(1)))]

    assert rejected_items(app, batch) == [(1, "shipment_not_found")]


def test_batch_with_an_invalid_awb_stores_nothing(app: Shipments) -> None:
    awb = given_shipment(app)
    batch = [("JL000000000001", a_scan("PU1", hours(1))), (awb, a_scan("PU1", hours(1)))]

    assert rejected_items(app, batch) == [(0, "invalid_awb")]


def test_batch_lists_every_bad_item_with_its_index_and_code(app: Shipments) -> None:
    awb = given_shipment(app, a_scan("IP3", hours(1.5)), a_scan("D01", hours(5)))
    batch = [
        (awb, a_scan("OP1", hours(1))),
        (awb, a_scan("XYZ", hours(2))),
        (awb, a_scan("IP3", hours(6))),
        (awb, a_scan("R01", hours(3))),
    ]

    assert rejected_items(app, batch) == [
        (1, "unknown_scan_code"),
        (2, "shipment_closed"),
        (3, "shipment_closed"),
    ]


def test_batch_item_is_judged_after_the_earlier_items_of_the_same_batch(app: Shipments) -> None:
    awb = given_shipment(app)
    batch = [(awb, a_scan(code, hours(n))) for n, code in enumerate(["IP3", "D01", "IP3"], 1)]

    assert rejected_items(app, batch) == [(2, "shipment_closed")]


def test_batch_repeating_a_scan_id_records_it_once(app: Shipments) -> None:
    awb = given_shipment(app)
    scan = a_scan("PU1", hours(1))

    outcomes, _ = app.record_scans([(awb, scan), (awb, scan)], LATER)

    assert [o.recorded for o in outcomes] == [True, False]
    assert scan_ids(stored_events(app)) == [scan.scan_id]

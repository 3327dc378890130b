"""Group commit (commands/scan_writer.py) on a real PostgreSQL: many scans share a
transaction, each caller still gets its own answer, and only after the commit."""

import threading
from concurrent.futures import Future
from dataclasses import replace
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest

from commands.scan_writer import Answer, ScanBatchRejected
from commands.shipments import Shipments
from domain.errors import DomainError
from domain.shipments import Scan, Shipment
from domain.waybill import waybill_for
from infra.postgres.connections import eventsourcing_env
from infra.runtime.bootstrap import build_applications
from infra.settings import Settings
from tests.support import LATER, T0, book_and_scan, transit_scan

REQUESTS = 300


def scans_in_store(shipments: Shipments) -> dict[UUID, int]:
    """Every recorded scan id in the event store and its notification id, decoded by the
    event-sourcing library from the stored rows."""
    found: dict[UUID, int] = {}
    for notification in shipments.recorder.select_notifications(start=1, limit=1_000_000):
        event = shipments.mapper.to_domain_event(notification)
        if isinstance(event, Shipment.ScanRecorded):
            found[event.scan_id] = notification.id
    return found


def transactions_holding(url: str, notification_ids: set[int]) -> int:
    """How many transactions wrote these rows: each row's xmin names its transaction."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT DISTINCT xmin::text FROM shipments.shipments_events"
            " WHERE notification_id = ANY(%s)",
            (list(notification_ids),),
        ).fetchall()
    return len(rows)


def outcome(future: Future[Answer]) -> tuple[str, Any]:
    try:
        outcomes, _ = future.result(timeout=60)
    except DomainError as error:
        return "refused", error.code
    return "recorded", [o.recorded for o in outcomes]


def test_queued_scans_share_transactions_and_each_gets_its_own_answer(
    settings: Settings,
) -> None:
    apps = build_applications(settings)
    shipments = apps.shipments
    awbs = book_and_scan(shipments, 20)
    unbooked = next(a for a in map(waybill_for, range(1, 100)) if a not in awbs)
    good: list[tuple[str, Scan]] = [(awbs[n % 20], transit_scan(n)) for n in range(REQUESTS)]
    bad: dict[int, tuple[list[tuple[str, Scan]], str]] = {
        7: ([(awbs[0], replace(transit_scan(1), code="ZZ9"))], "unknown_scan_code"),
        50: ([(awbs[1], transit_scan(2, at=LATER + timedelta(hours=1)))], "scan_in_future"),
        90: ([("1234567890", transit_scan(3))], "invalid_awb"),
        91: ([(unbooked, transit_scan(3))], "shipment_not_found"),
        120: (
            [(awbs[2], transit_scan(4)), (awbs[3], replace(transit_scan(5), code="ZZ9"))],
            "scan_batch_rejected",
        ),
    }
    futures: list[Future[Answer]] = []
    for n, item in enumerate(good):
        scans, _ = bad.get(n, ([item], ""))
        futures.append(shipments.queue_scans(scans, LATER, batch=n == 120))

    answers = [outcome(f) for f in futures]

    expected = [
        ("refused", bad[n][1]) if n in bad else ("recorded", [True]) for n in range(REQUESTS)
    ]
    assert answers == expected
    accepted = {scan.scan_id for n, (_, scan) in enumerate(good) if n not in bad}
    stored = scans_in_store(shipments)
    assert stored.keys() == accepted  # the refused wrote nothing, the rest all
    # Queued faster than one commit takes, they were written by far fewer transactions.
    url = settings.require_database_url()
    assert transactions_holding(url, set(stored.values())) <= REQUESTS // 10
    shipments.close()


def test_no_caller_hears_of_a_scan_before_it_is_committed(settings: Settings) -> None:
    apps = build_applications(settings)
    shipments = apps.shipments
    awbs = book_and_scan(shipments, 10)
    seen_at_answer: dict[UUID, bool] = {}
    looked = threading.Semaphore(0)
    reader = Shipments(
        env=eventsourcing_env(settings.require_database_url(), "shipments"), sealer=apps.keyring
    )

    def look(scan_id: UUID) -> Any:
        def check(_: Future[Answer]) -> None:
            # Runs in the writer's thread at the moment it answers: another connection
            # must already see the scan.
            seen_at_answer[scan_id] = scan_id in scans_in_store(reader)
            looked.release()

        return check

    futures = []
    for n in range(100):
        scan = transit_scan(n)
        future = shipments.queue_scans([(awbs[n % 10], scan)], LATER, batch=False)
        future.add_done_callback(look(scan.scan_id))
        futures.append(future)
    for future in futures:
        future.result(timeout=60)
    for _ in futures:  # a future's callbacks run just after its result is released
        assert looked.acquire(timeout=60)
    reader.close()
    assert len(seen_at_answer) == 100
    assert all(seen_at_answer.values())
    shipments.close()


def test_a_kept_shipment_is_never_the_ground_for_a_refusal(
    settings: Settings,
) -> None:
    """Process A keeps the shipment after scanning it; process B then records a failed
    delivery. A return (allowed only after a failed delivery) must rest on what B wrote,
    not on what A kept; and a retry of B's scan sent to A is recognised as one."""
    apps = build_applications(settings)
    a = apps.shipments
    b = Shipments(
        env=eventsourcing_env(settings.require_database_url(), "shipments"), sealer=apps.keyring
    )
    (awb,) = book_and_scan(a, 1)
    a.record_scan(awb, transit_scan(1), LATER)  # now A keeps it
    courier = Scan(uuid4(), "IP3", T0, "SUB10000", "account:b", hub="SUB10000", by_courier=True)
    taken = replace(courier, scanned_at=T0 + timedelta(hours=1.5))
    failed = replace(courier, scan_id=uuid4(), code="U04", scanned_at=T0 + timedelta(hours=2))
    shared = transit_scan(3, at=T0 + timedelta(hours=1))
    b.record_scan(awb, taken, LATER)
    b.record_scan(awb, failed, LATER)
    b.record_scan(awb, shared, LATER)

    returned, _ = a.record_scan(
        awb, Scan(uuid4(), "R01", T0 + timedelta(hours=3), "CGK10000", "k", hub="CGK10000"), LATER
    )
    retried, _ = a.record_scan(awb, shared, LATER)

    assert retried.recorded is False  # B recorded it: a retry, not a second copy
    assert returned.recorded is True  # allowed only after B's failed delivery
    a.close()
    b.close()


def test_a_refused_batch_leaves_the_shipments_of_its_group_as_they_were(
    settings: Settings,
) -> None:
    apps = build_applications(settings)
    shipments = apps.shipments
    (awb,) = book_and_scan(shipments, 1)
    before = transit_scan(1)
    refused_batch = [(awb, transit_scan(2)), (awb, replace(transit_scan(3), code="ZZ9"))]
    after = transit_scan(4)
    futures = [
        shipments.queue_scans([(awb, before)], LATER, batch=False),
        shipments.queue_scans(refused_batch, LATER, batch=True),
        shipments.queue_scans([(awb, after)], LATER, batch=False),
    ]
    futures[0].result(timeout=60)
    with pytest.raises(ScanBatchRejected):
        futures[1].result(timeout=60)
    futures[2].result(timeout=60)
    assert shipments.shipment(awb).scan_ids == {before.scan_id, after.scan_id}
    shipments.close()

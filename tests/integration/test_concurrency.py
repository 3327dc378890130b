"""Concurrent writers on one shipment: every scan is stored, versions stay contiguous."""

import threading

from commands.shipments import Shipments
from infra.postgres.connections import eventsourcing_env
from infra.runtime.bootstrap import build_applications
from infra.settings import Settings
from tests.support import BOOKED_AT, LATER, booking, transit_scan

WRITERS = 10


def test_ten_concurrent_scans_of_one_shipment_are_all_stored(settings: Settings) -> None:
    apps = build_applications(settings)
    first = apps.shipments
    awb = first.book(booking(), actor="key_test", now=BOOKED_AT).awb
    # Each writer is its own application with its own connections, as separate API workers are.
    env = eventsourcing_env(settings.require_database_url(), Shipments.name)
    writers = [Shipments(env=env, sealer=apps.keyring) for _ in range(WRITERS)]
    scans = [transit_scan(n) for n in range(WRITERS)]
    start = threading.Barrier(WRITERS)
    errors: list[BaseException] = []

    def write(app: Shipments, n: int) -> None:
        start.wait()
        try:
            app.record_scan(awb, scans[n], LATER)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=write, args=(app, n)) for n, app in enumerate(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    shipment = first.shipment(awb)
    events = list(first.events.get(shipment.id))
    assert [e.originator_version for e in events] == list(range(1, WRITERS + 2))
    assert shipment.scan_ids == {scan.scan_id for scan in scans}

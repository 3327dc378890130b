"""Rebuilding a read model beside the live one, while readers read and writers write."""

import threading
from functools import partial
from typing import Any

import psycopg

from consumers import generations
from consumers.rebuild import rebuild
from consumers.registry import projection
from consumers.runner import ProjectionRunner
from consumers.verify import verify
from infra.bootstrap import Applications, build_applications
from infra.relay import Relay
from infra.settings import Settings
from projections.tracking_queries import find_shipments
from tests.integration.workers import running
from tests.support import BOOKED_AT, LATER, book_and_scan, booking, transit_scan, wait_until

TRACKING = projection("tracking")


def test_rebuild_switches_readers_without_downtime_and_live_runner_follows(
    settings: Settings, database_url: str
) -> None:
    apps = build_applications(settings)
    shipments = apps.shipments
    awbs = book_and_scan(shipments, 20, rounds=10)
    stored = shipments.recorder.max_notification_id() or 0
    runner = ProjectionRunner(TRACKING, settings)
    reader_errors: list[str] = []
    reads = 0
    done = threading.Event()

    def read_continuously() -> None:
        nonlocal reads
        with psycopg.connect(database_url, autocommit=True) as conn:
            while not done.is_set():
                found = find_shipments(conn, awbs, partial(apps.keyring.unseal_many, conn=conn))
                reads += 1
                if len(found) != len(awbs) or any(len(s["history"]) < 10 for s in found.values()):
                    reader_errors.append(f"incomplete answer: {len(found)} shipments")

    with running(Relay(shipments, settings)), running(runner):
        assert wait_until(lambda: runner.applied == stored, timeout=60)
        reader = threading.Thread(target=read_continuously)
        reader.start()
        new_generation = rebuild(TRACKING, settings, threading.Event())
        shipments.record_scans([(awb, transit_scan(10)) for awb in awbs], LATER)
        followed = wait_until(
            lambda: (
                runner.generation == new_generation
                and sum(len(s["history"]) for s in _tracked(apps, database_url, awbs).values())
                == 220
            ),
            timeout=60,
        )
        done.set()
        reader.join()

    assert new_generation == 2
    assert followed, "the live runner did not continue on the new generation"
    assert reads > 0
    assert reader_errors == []
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert generations.active_generation(conn, TRACKING) == 2
        assert verify(conn, TRACKING, [shipments]) == []


def test_verify_reports_a_read_model_that_drifted_from_the_events(
    settings: Settings, database_url: str
) -> None:
    shipments = build_applications(settings).shipments
    awb = shipments.book(booking(), actor="key_test", now=BOOKED_AT).awb
    shipments.record_scan(awb, transit_scan(1), LATER)
    runner = ProjectionRunner(TRACKING, settings)
    with running(Relay(shipments, settings)), running(runner):
        assert wait_until(lambda: runner.applied == 3, timeout=60)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DELETE FROM tracking_scans")
        differences = verify(conn, TRACKING, [shipments])
    assert [(d.table, d.missing, d.unexpected) for d in differences] == [("scans", 1, 0)]


def _tracked(apps: Applications, database_url: str, awbs: list[str]) -> dict[str, dict[str, Any]]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        return find_shipments(conn, awbs, partial(apps.keyring.unseal_many, conn=conn))

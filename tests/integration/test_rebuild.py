"""Rebuilding a read model beside the live one, while readers read and writers write."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg

from commands.shipments import Shipments
from consumers import generations
from consumers.rebuild import rebuild
from consumers.registry import projection
from consumers.runner import ProjectionRunner
from consumers.verify import verify
from infra.messaging.relay import Relay
from infra.runtime.bootstrap import build_applications
from infra.settings import Settings
from tests.integration.workers import running
from tests.support import BOOKED_AT, LATER, book_and_scan, booking, transit_scan, wait_until

TRACKING = projection("tracking")


SHIPMENTS = 100
ROUNDS = 100  # 10,000 scans and 200 booking events before the rebuild starts


class HistoryWatcher:
    """A reader that remembers every answer: scans per shipment and the positions behind
    the consistency tokens. Either going down is history going back."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.scans: dict[str, int] = {}
        self.positions: dict[tuple[str, int], int] = {}
        self.reads = 0
        self.regressions: list[str] = []
        self.errors: list[BaseException] = []

    def run(self, done: threading.Event) -> None:
        try:
            with psycopg.connect(self.database_url, autocommit=True) as conn:
                while not done.is_set():
                    self._read(conn)
        except BaseException as error:
            self.errors.append(error)

    def _read(self, conn: psycopg.Connection[Any]) -> None:
        scans = conn.execute(
            "SELECT shipment_id::text, count(*) FROM tracking_scans GROUP BY shipment_id"
        ).fetchall()
        positions = conn.execute(
            "SELECT topic, partition, notification_id FROM tracking_positions"
        ).fetchall()
        self._compare(self.scans, dict(scans), "scans of")
        self._compare(self.positions, {(t, p): n for t, p, n in positions}, "position of")
        self.reads += 1

    def _compare(self, seen: dict[Any, int], now: dict[Any, int], what: str) -> None:
        for key, before in seen.items():
            if now.get(key, 0) < before:
                self.regressions.append(f"{what} {key}: {before} then {now.get(key, 0)}")
        seen.update(now)


def keep_scanning(shipments: Shipments, awbs: list[str], done: threading.Event) -> int:
    step = ROUNDS
    while not done.is_set():
        shipments.record_scans([(awb, transit_scan(step)) for awb in awbs], LATER)
        step += 1
        time.sleep(0.02)
    return (step - ROUNDS) * len(awbs)


def test_a_rebuild_under_continuous_writes_never_moves_readers_back(
    settings: Settings, database_url: str
) -> None:
    apps = build_applications(settings)
    shipments = apps.shipments
    awbs = book_and_scan(shipments, SHIPMENTS, rounds=ROUNDS)
    runner = ProjectionRunner(TRACKING, settings)
    watchers = [HistoryWatcher(database_url) for _ in range(2)]
    done = threading.Event()
    with running(Relay(shipments, settings)), running(runner):
        assert wait_until(lambda: runner.applied == shipments.recorder.max_notification_id(), 120)
        with ThreadPoolExecutor(len(watchers) + 1) as pool:
            reading = [pool.submit(w.run, done) for w in watchers]
            writing = pool.submit(keep_scanning, shipments, awbs[:10], done)
            new_generation = rebuild(TRACKING, settings, threading.Event())
            followed = wait_until(lambda: runner.generation == new_generation, timeout=30)
            time.sleep(1.0)  # readers keep reading the new generation while writes go on
            done.set()
            written_during = writing.result(timeout=60)
            for future in reading:
                future.result(timeout=60)
        stored = shipments.recorder.max_notification_id()
        assert wait_until(lambda: _applied_everything(database_url, stored), timeout=60)

    assert followed, "the live runner did not continue on the new generation"
    assert written_during > 0
    for watcher in watchers:
        assert watcher.errors == []
        assert watcher.reads > 0
        assert watcher.regressions == []
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert generations.active_generation(conn, TRACKING) == new_generation == 2
        assert verify(conn, TRACKING, [shipments]) == []


def _applied_everything(database_url: str, stored: int | None) -> bool:
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute("SELECT max(notification_id) FROM tracking_positions").fetchone()
    return row is not None and row[0] == stored


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

"""kill -9 of the relay and of the projection consumer, at random moments during a
stream of 10,000 scans, restarted each time: nothing lost, nothing applied twice."""

import os
import random
import threading
import time
from pathlib import Path

import psycopg
import pytest

from commands.shipments import Shipments
from consumers.registry import projection
from consumers.verify import verify
from infra.runtime.bootstrap import build_applications
from infra.settings import Settings
from tests.integration.crashes import Processes
from tests.support import LATER, Threads, book_and_scan, transit_scan, wait_until

SHIPMENTS = 100
ROUNDS = 100  # one scan per shipment per round: 10,000 scans
COMMANDS = {"relay": ("relay",), "consumer": ("consume", "tracking")}


def write_stream(shipments: Shipments, awbs: list[str], pause: float) -> None:
    for step in range(ROUNDS):
        shipments.record_scans([(awb, transit_scan(step)) for awb in awbs], LATER)
        time.sleep(pause)


def read_model_totals(database_url: str) -> tuple[int, int]:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT (SELECT coalesce(sum(scan_count), 0) FROM tracking_shipments),"
            " (SELECT count(*) FROM tracking_scans)"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def assert_read_model_complete_and_exact(database_url: str, shipments: Shipments) -> None:
    """Every scan arrived exactly once, and the read model equals a fresh replay."""
    expected = (SHIPMENTS * ROUNDS,) * 2
    caught_up = wait_until(lambda: read_model_totals(database_url) == expected, timeout=180)
    assert caught_up, f"read model has {read_model_totals(database_url)} scans, not {expected}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert verify(conn, projection("tracking"), [shipments]) == []


@pytest.mark.slow
def test_kill_9_during_a_stream_loses_and_duplicates_nothing(
    settings: Settings, database_url: str, tmp_path: Path
) -> None:
    shipments = build_applications(settings).shipments
    awbs = book_and_scan(shipments, SHIPMENTS)
    processes = Processes(settings, tmp_path, COMMANDS)
    writing = threading.Event()
    writer = Threads()
    writer.start(lambda: (writing.set(), write_stream(shipments, awbs, 0.15), writing.clear()))
    chance = random.Random(os.environ.get("JALUR_TEST_SEED", "crash"))
    try:
        assert wait_until(writing.is_set, timeout=10)
        while writing.is_set():
            time.sleep(chance.uniform(0.3, 2.0))
            processes.kill_and_restart(chance.choice(["relay", "consumer"]))
        writer.join(timeout=120)
        assert_read_model_complete_and_exact(database_url, shipments)
    finally:
        processes.stop()
    assert processes.kills["relay"] >= 3, processes.kills
    assert processes.kills["consumer"] >= 3, processes.kills

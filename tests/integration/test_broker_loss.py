"""The embedded broker keeps nothing across a restart. Mid-stream it restarts: the relay
notices, republishes from the event store, and the read model still ends exact."""

import threading
from pathlib import Path

import psycopg
import pytest

from consumers.registry import projection
from consumers.verify import verify
from infra.bootstrap import build_applications
from infra.embedded import EmbeddedBroker
from tests.integration.conftest import make_settings
from tests.integration.test_crash_recovery import (
    ROUNDS,
    SHIPMENTS,
    Processes,
    read_model_totals,
    write_stream,
)
from tests.support import BOOKED_AT, booking, wait_until


@pytest.mark.slow
def test_broker_restart_mid_stream_loses_and_duplicates_nothing(
    database_url: str, own_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    settings = make_settings(database_url, own_broker.bootstrap)
    shipments = build_applications(settings)
    awbs = [
        shipments.book(booking(n), actor="key_test", now=BOOKED_AT).awb for n in range(SHIPMENTS)
    ]
    processes = Processes(settings, tmp_path)
    writer = threading.Thread(target=write_stream, args=(shipments, awbs, 0.1))
    try:
        writer.start()
        assert wait_until(lambda: read_model_totals(database_url)[1] > 2000, timeout=120)
        own_broker.restart()  # every topic, message and committed offset is gone
        writer.join()
        caught_up = wait_until(
            lambda: read_model_totals(database_url) == (SHIPMENTS * ROUNDS,) * 2, timeout=180
        )
        totals = read_model_totals(database_url)
    finally:
        processes.stop()
    assert caught_up, f"read model has {totals} scans of {SHIPMENTS * ROUNDS}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert verify(conn, projection("tracking"), [shipments]) == []

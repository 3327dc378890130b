"""The embedded broker keeps nothing across a restart. Events published while the consumer
is paused exist only on the broker when it restarts: the relay must notice, republish
from the event store, and the consumer, resumed, must apply each event once."""

import os
import signal
from pathlib import Path

import psycopg
import pytest

from infra.postgres import publications
from infra.runtime.bootstrap import build_applications
from infra.runtime.embedded import EmbeddedBroker
from tests.integration.conftest import make_settings
from tests.integration.crashes import Processes
from tests.integration.test_crash_recovery import (
    COMMANDS,
    SHIPMENTS,
    assert_read_model_complete_and_exact,
    read_model_totals,
    write_stream,
)
from tests.support import Threads, book_and_scan, wait_until


def relay_position(database_url: str) -> int:
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT notification_id FROM relay_positions WHERE application = 'shipments'"
        ).fetchone()
    return int(row[0]) if row else 0


def copies(database_url: str) -> int:
    with psycopg.connect(database_url, autocommit=True) as conn:
        return len(publications.publications(conn, "shipments"))


@pytest.mark.slow
def test_events_only_the_lost_broker_held_are_republished_and_applied_once(
    database_url: str, own_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    settings = make_settings(database_url, own_broker.bootstrap)
    shipments = build_applications(settings).shipments
    awbs = book_and_scan(shipments, SHIPMENTS)
    processes = Processes(settings, tmp_path, COMMANDS)
    consumer = processes.running["consumer"]
    writer = Threads()
    try:
        writer.start(write_stream, shipments, awbs, 0.1)
        assert wait_until(lambda: read_model_totals(database_url)[1] > 2000, timeout=120)
        os.kill(consumer.pid, signal.SIGSTOP)
        applied_before = read_model_totals(database_url)[1]
        published_while_paused = relay_position(database_url) + 500
        assert wait_until(lambda: relay_position(database_url) >= published_while_paused, 60)
        own_broker.restart()  # every topic, message and committed offset is gone
        assert wait_until(lambda: copies(database_url) == 2, timeout=60), "no republish"
        os.kill(consumer.pid, signal.SIGCONT)
        writer.join(timeout=300)
        assert_read_model_complete_and_exact(database_url, shipments)
    finally:
        os.kill(consumer.pid, signal.SIGCONT)
        processes.stop()
    assert read_model_totals(database_url)[1] > applied_before
    assert "republishing from the start" in processes.log("relay").read_text()

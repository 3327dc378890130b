"""The embedded broker keeps nothing across a restart. Mid-stream it restarts: the relay
notices, republishes from the event store, and the read model still ends exact."""

import threading
from pathlib import Path

import pytest

from infra.bootstrap import build_applications
from infra.embedded import EmbeddedBroker
from tests.integration.conftest import make_settings
from tests.integration.test_crash_recovery import (
    SHIPMENTS,
    Processes,
    assert_read_model_complete_and_exact,
    read_model_totals,
    write_stream,
)
from tests.support import book_and_scan, wait_until


@pytest.mark.slow
def test_broker_restart_mid_stream_loses_and_duplicates_nothing(
    database_url: str, own_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    settings = make_settings(database_url, own_broker.bootstrap)
    shipments = build_applications(settings).shipments
    awbs = book_and_scan(shipments, SHIPMENTS)
    processes = Processes(settings, tmp_path)
    writer = threading.Thread(target=write_stream, args=(shipments, awbs, 0.1))
    try:
        writer.start()
        assert wait_until(lambda: read_model_totals(database_url)[1] > 2000, timeout=120)
        own_broker.restart()  # every topic, message and committed offset is gone
        writer.join()
        assert_read_model_complete_and_exact(database_url, shipments)
    finally:
        processes.stop()

"""Every process stops within 5 s of SIGTERM, even when its database has gone away."""

import signal
import subprocess
import time
from pathlib import Path
from uuid import uuid4

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from infra.runtime.embedded import EmbeddedBroker
from tests.integration.conftest import make_settings
from tests.support import start_process, wait_until

STOP_BOUND_S = 5.0


def stopped_within(process: subprocess.Popen[bytes], bound: float) -> bool:
    """SIGTERM, then whether it exited within `bound` seconds (killed if not)."""
    process.send_signal(signal.SIGTERM)
    started = time.monotonic()
    try:
        process.wait(bound + 10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return False
    return time.monotonic() - started <= bound


def test_relay_and_consumer_stop_within_5_s_of_sigterm_with_the_database_gone(
    pg_admin_url: str, broker: EmbeddedBroker, tmp_path: Path
) -> None:
    name = f"jalur_gone_{uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    settings = make_settings(make_conninfo(pg_admin_url, dbname=name), broker.bootstrap)
    relay_log, consumer_log = tmp_path / "relay.log", tmp_path / "consumer.log"
    relay = start_process(settings, "relay", log=relay_log)
    consumer = start_process(settings, "consume", "tracking", log=consumer_log)
    try:
        assert wait_until(lambda: "is active" in relay_log.read_text(), 60), relay_log.read_text()
        assert consumer.poll() is None, consumer_log.read_text()
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
    time.sleep(1.0)  # let both notice: the relay then retries a connection that never comes

    assert stopped_within(relay, STOP_BOUND_S), relay_log.read_text()
    assert stopped_within(consumer, STOP_BOUND_S), consumer_log.read_text()

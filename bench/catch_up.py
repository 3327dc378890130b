"""Relay + projection lag of a running Jalur: how long until tracking shows every scan the
event store holds (the relay has published it and the tracking consumer applied it)."""

import time
from typing import Any

import psycopg

from infra.settings import Settings

STORED = "SELECT count(*) FROM shipments.shipments_events WHERE topic LIKE %s"
PROJECTED = "SELECT count(*) FROM tracking_scans"
POLL_S = 0.05


def scan_counts(conn: psycopg.Connection[Any]) -> tuple[int, int]:
    """(scans in the event store, scans in the tracking read model)."""
    stored = conn.execute(STORED, ("%ScanRecorded%",)).fetchone()
    projected = conn.execute(PROJECTED).fetchone()
    return (stored[0] if stored else 0), (projected[0] if projected else 0)


def seconds_to_catch_up(settings: Settings, timeout: float = 120.0) -> tuple[float, int]:
    """(seconds until tracking held every stored scan, scans still missing then); call it
    when the load has just ended. A timeout returns the time waited and what was missing."""
    began = time.perf_counter()
    with psycopg.connect(settings.require_database_url(), autocommit=True) as conn:
        while True:
            stored, projected = scan_counts(conn)
            waited = time.perf_counter() - began
            if projected >= stored or waited > timeout:
                return round(waited, 2), stored - projected
            time.sleep(POLL_S)

"""Writes without HTTP: the Shipments application directly, and plain PostgreSQL inserts
of rows shaped like the event store's (the ceiling the event store works under)."""

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import psycopg
from report import Detail, Figure, per_second, process_cpu
from workload import book_shipments, scan, scan_batches

from commands.shipments import Shipments
from infra.runtime.bootstrap import build_applications
from infra.settings import Settings

SECTION_STORE = "event store"
SECTION_RAW = "raw PostgreSQL"
RAW_TRANSACTION_ROWS = 1000
RAW_DDL = """CREATE TABLE raw_events (
    originator_id uuid NOT NULL,
    originator_version bigint NOT NULL,
    topic text,
    state bytea,
    notification_id bigserial NOT NULL,
    PRIMARY KEY (originator_id, originator_version)
)"""
RAW_INDEX = "CREATE UNIQUE INDEX raw_events_notification_id_idx ON raw_events (notification_id)"
RAW_INSERT = """INSERT INTO raw_events (originator_id, originator_version, topic, state)
                VALUES (%s, %s, %s, %s)"""
RAW_COPY = """COPY raw_events (originator_id, originator_version, topic, state)
              FROM STDIN (FORMAT BINARY)"""
Row = tuple[UUID, int, str, bytes]


def booked_app(settings: Settings, bookings: int) -> tuple[Shipments, list[str]]:
    shipments = build_applications(settings).shipments
    return shipments, book_shipments(shipments, bookings)


def store_single(settings: Settings, bookings: int, total: int) -> Figure:
    """record_scan in a loop: one scan, one command, one transaction."""
    shipments, awbs = booked_app(settings, bookings)
    try:
        scans = [(awbs[i % len(awbs)], scan(i)) for i in range(total)]
        began, cpu = time.perf_counter(), process_cpu()
        for awb, one in scans:
            shipments.record_scan(awb, one, datetime.now(UTC))
        seconds, cpu = time.perf_counter() - began, process_cpu() - cpu
    finally:
        shipments.close()
    detail: Detail = {"scans": total, "seconds": round(seconds, 3), **_cpu(cpu, total)}
    return Figure(
        SECTION_STORE,
        "record_scan, 1 per transaction",
        per_second(total, seconds),
        "scans/s",
        detail,
    )


def store_batches(settings: Settings, bookings: int, total: int) -> Figure:
    """record_scans with 100 scans (on 100 shipments) per call and transaction."""
    shipments, awbs = booked_app(settings, bookings)
    try:
        batches = scan_batches(awbs, total)
        began, cpu = time.perf_counter(), process_cpu()
        for batch in batches:
            shipments.record_scans(batch, datetime.now(UTC))
        seconds, cpu = time.perf_counter() - began, process_cpu() - cpu
    finally:
        shipments.close()
    detail: Detail = {"scans": total, "batches": len(batches), "seconds": round(seconds, 3)}
    detail |= _cpu(cpu, total)
    return Figure(
        SECTION_STORE, "record_scans, 100 per call", per_second(total, seconds), "scans/s", detail
    )


def raw_connect(database_url: str) -> psycopg.Connection[Any]:
    conn = psycopg.connect(database_url, autocommit=True)
    conn.execute(RAW_DDL)
    conn.execute(RAW_INDEX)
    return conn


def raw_single(settings: Settings, rows: Sequence[Row]) -> Figure:
    with raw_connect(settings.require_database_url()) as conn:
        began = time.perf_counter()
        for row in rows:
            conn.execute(RAW_INSERT, row)
        seconds = time.perf_counter() - began
    return _raw_figure("INSERT, 1 row per commit", len(rows), seconds)


def raw_executemany(settings: Settings, rows: Sequence[Row]) -> Figure:
    with raw_connect(settings.require_database_url()) as conn:
        began = time.perf_counter()
        for chunk in _chunks(rows):
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(RAW_INSERT, chunk)
        seconds = time.perf_counter() - began
    return _raw_figure("executemany, 1,000 rows per commit", len(rows), seconds)


def raw_copy(settings: Settings, rows: Sequence[Row]) -> Figure:
    with raw_connect(settings.require_database_url()) as conn:
        began = time.perf_counter()
        for chunk in _chunks(rows):
            with conn.transaction(), conn.cursor() as cur, cur.copy(RAW_COPY) as copy:
                copy.set_types(["uuid", "int8", "text", "bytea"])
                for row in chunk:
                    copy.write_row(row)
        seconds = time.perf_counter() - began
    return _raw_figure("binary COPY, 1,000 rows per commit", len(rows), seconds)


def _cpu(cpu: float, scans: int) -> Detail:
    """The Python side's share: CPU of this process per scan (the rest is PostgreSQL)."""
    return {"python_cpu_ms_per_scan": round(cpu * 1000 / scans, 3)}


def _chunks(rows: Sequence[Row]) -> list[Sequence[Row]]:
    return [rows[i : i + RAW_TRANSACTION_ROWS] for i in range(0, len(rows), RAW_TRANSACTION_ROWS)]


def _raw_figure(name: str, count: int, seconds: float) -> Figure:
    detail: Detail = {"rows": count, "seconds": round(seconds, 3)}
    return Figure(SECTION_RAW, name, per_second(count, seconds), "rows/s", detail)

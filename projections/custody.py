"""The custody exceptions read model: one row per anomaly a recorded scan carries
(domain/custody.py), for staff to look into.

A read model of its own rather than rows in tracking: tracking's live generation in an
existing database has no table for them, and a projection of its own is rebuilt from the
events on its own (scans stored before issue 14 carry no anomalies and add no rows).
"""

from typing import Any

from psycopg import Cursor

from domain.public import PublicEvent

NAME = "custody"
CONTEXTS = ("shipments",)
TABLES = ("exceptions",)

DDL = (
    """CREATE TABLE exceptions (
        shipment_id uuid NOT NULL,
        scan_id uuid NOT NULL,
        anomaly text NOT NULL,
        code text NOT NULL,
        location text NOT NULL,
        actor text NOT NULL,
        scanned_at timestamptz NOT NULL,
        recorded_at timestamptz NOT NULL,
        PRIMARY KEY (shipment_id, scan_id, anomaly)
    )""",
    "CREATE INDEX ON exceptions (recorded_at DESC, scan_id DESC, anomaly DESC)",
)

INSERT = """INSERT INTO exceptions (shipment_id, scan_id, anomaly, code, location, actor,
                scanned_at, recorded_at)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"""


def rows_for(event: PublicEvent) -> list[tuple[Any, ...]]:
    if event.type != "ScanRecorded":
        return []
    data = event.data
    return [
        (
            event.aggregate_id,
            data["scan_id"],
            anomaly,
            data["code"],
            data["location"],
            data["actor"],
            data["scanned_at"],
            data["recorded_at"],
        )
        for anomaly in data.get("anomalies") or ()
    ]


def apply(event: PublicEvent, cur: Cursor[Any]) -> None:
    rows = rows_for(event)
    if rows:
        cur.executemany(INSERT, rows)

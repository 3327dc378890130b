"""Read queries over the custody exceptions view (the active generation)."""

from typing import Any
from uuid import UUID

from psycopg import Connection
from psycopg.rows import dict_row

# Newest first, by an index; the AWB from tracking's view (a shipment not projected there
# yet shows none).
PAGE = """
SELECT e.recorded_at, e.scan_id, e.anomaly, s.awb, e.code, e.location, e.actor, e.scanned_at
FROM custody_exceptions e LEFT JOIN tracking_shipments s USING (shipment_id)
WHERE (e.recorded_at, e.scan_id, e.anomaly) < (%s, %s, %s)
ORDER BY e.recorded_at DESC, e.scan_id DESC, e.anomaly DESC
LIMIT %s"""

FIRST = ("infinity", UUID(int=0), "")  # before every row: recorded_at < infinity


def exceptions(
    conn: Connection[Any], limit: int, after: tuple[str, UUID, str] | None
) -> list[dict[str, Any]]:
    """A page of exceptions, newest first, after the given (recorded_at, scan_id, anomaly)."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(PAGE, (*(after or FIRST), limit)).fetchall()


def positions(conn: Connection[Any], topic: str) -> dict[int, int]:
    rows = conn.execute(
        "SELECT partition, notification_id FROM custody_positions WHERE topic = %s", (topic,)
    ).fetchall()
    return dict(rows)

"""Read queries over the public tracking views (the active generation)."""

from typing import Any

from psycopg import Connection
from psycopg.rows import dict_row

SHIPMENTS = """
SELECT DISTINCT ON (awb) shipment_id, awb, service, origin_city, destination_city,
       shipper_name, receiver_name, weight_grams, cod, booked_at, status, status_reason,
       status_at, delivered_at, pod_receiver_name, pod_relationship
FROM tracking_shipments WHERE awb = ANY(%s)
ORDER BY awb, booked_at DESC"""

SCANS = """
SELECT shipment_id, scanned_at, code, description, status, reason, city
FROM tracking_scans WHERE shipment_id = ANY(%s)
ORDER BY shipment_id, scanned_at, aggregate_version"""


def find_shipments(conn: Connection[Any], awbs: list[str]) -> dict[str, dict[str, Any]]:
    """Tracking answers by AWB (the most recent booking of a recycled number)."""
    with conn.cursor(row_factory=dict_row) as cur:
        shipments = {row["awb"]: row for row in cur.execute(SHIPMENTS, (awbs,)).fetchall()}
        ids = [row["shipment_id"] for row in shipments.values()]
        history: dict[Any, list[dict[str, Any]]] = {shipment_id: [] for shipment_id in ids}
        for scan in cur.execute(SCANS, (ids,)).fetchall():
            history[scan.pop("shipment_id")].append(scan)
    for row in shipments.values():
        row["history"] = history[row.pop("shipment_id")]
    return shipments


def positions(conn: Connection[Any], topic: str) -> dict[int, int]:
    rows = conn.execute(
        "SELECT partition, notification_id FROM tracking_positions WHERE topic = %s", (topic,)
    ).fetchall()
    return dict(rows)

"""The public tracking read model: one row per shipment, one per scan.

It holds no personal data: names are masked when the row is written, and places
are cities. Rows are written by `apply`, inside the runner's transaction, with the
search_path set to the projection's current generation schema.
"""

from datetime import datetime
from typing import Any

from psycopg import Cursor

from domain.areas import city_of
from domain.masking import mask_name
from domain.public import PublicEvent
from domain.scans import SCAN_CODES, TERMINAL_KINDS
from projections.statuses import BOOKED_STATUS, status_for

NAME = "tracking"
CONTEXTS = ("shipments",)
TABLES = ("shipments", "scans")

DDL = (
    """CREATE TABLE shipments (
        shipment_id uuid PRIMARY KEY,
        awb text NOT NULL,
        service text NOT NULL,
        origin_city text NOT NULL,
        destination_city text NOT NULL,
        shipper_name text NOT NULL,
        receiver_name text NOT NULL,
        weight_grams integer NOT NULL,
        cod boolean NOT NULL,
        booked_at timestamptz NOT NULL,
        status text NOT NULL,
        status_reason text,
        status_at timestamptz,
        closed boolean NOT NULL DEFAULT false,
        delivered_at timestamptz,
        pod_receiver_name text,
        pod_relationship text,
        scan_count integer NOT NULL DEFAULT 0,
        aggregate_version integer NOT NULL
    )""",
    "CREATE INDEX ON shipments (awb, booked_at DESC)",
    """CREATE TABLE scans (
        shipment_id uuid NOT NULL,
        scan_id uuid NOT NULL,
        aggregate_version integer NOT NULL,
        scanned_at timestamptz NOT NULL,
        recorded_at timestamptz NOT NULL,
        code text NOT NULL,
        description text NOT NULL,
        status text NOT NULL,
        reason text,
        city text NOT NULL,
        PRIMARY KEY (shipment_id, scan_id)
    )""",
    "CREATE INDEX ON scans (shipment_id, scanned_at)",
)


def apply(event: PublicEvent, cur: Cursor[Any]) -> None:
    if event.type == "ShipmentBooked":
        _booked(event, cur)
    elif event.type == "ScanRecorded":
        _scanned(event, cur)


def _booked(event: PublicEvent, cur: Cursor[Any]) -> None:
    booking = event.data["booking"]
    cur.execute(
        """INSERT INTO shipments (shipment_id, awb, service, origin_city, destination_city,
               shipper_name, receiver_name, weight_grams, cod, booked_at, status,
               aggregate_version)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        (
            event.aggregate_id,
            event.data["awb"],
            booking["service"],
            city_of(booking["shipper"]["area"]),
            city_of(booking["receiver"]["area"]),
            mask_name(booking["shipper"]["name"]),
            mask_name(booking["receiver"]["name"]),
            booking["parcel"]["weight_grams"],
            booking["cod_amount"] is not None,
            event.data["booked_at"],
            BOOKED_STATUS,
            event.aggregate_version,
        ),
    )


def _scanned(event: PublicEvent, cur: Cursor[Any]) -> None:
    data = event.data
    code = data["code"]
    status, reason = status_for(code)
    closing = SCAN_CODES[code].kind in TERMINAL_KINDS
    scanned_at = datetime.fromisoformat(data["scanned_at"])
    cur.execute(
        """INSERT INTO scans (shipment_id, scan_id, aggregate_version, scanned_at, recorded_at,
               code, description, status, reason, city)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        (
            event.aggregate_id,
            data["scan_id"],
            event.aggregate_version,
            scanned_at,
            data["recorded_at"],
            code,
            SCAN_CODES[code].description,
            status,
            reason,
            city_of(data["location"]),
        ),
    )
    cur.execute(
        """UPDATE shipments SET scan_count = scan_count + 1, aggregate_version = %(version)s
           WHERE shipment_id = %(id)s""",
        {"version": event.aggregate_version, "id": event.aggregate_id},
    )
    # The latest scan by scan time sets the status; a closing scan always wins.
    cur.execute(
        """UPDATE shipments SET status = %(status)s, status_reason = %(reason)s,
               status_at = %(at)s, closed = %(closing)s,
               delivered_at = CASE WHEN %(delivered)s THEN %(at)s ELSE delivered_at END,
               pod_receiver_name = COALESCE(%(pod_name)s, pod_receiver_name),
               pod_relationship = COALESCE(%(pod_rel)s, pod_relationship)
           WHERE shipment_id = %(id)s AND NOT closed
             AND (%(closing)s OR status_at IS NULL OR status_at <= %(at)s)""",
        {
            "status": status,
            "reason": reason,
            "at": scanned_at,
            "closing": closing,
            "delivered": status == "delivered",
            "pod_name": mask_name(data["recipient_name"]) if data.get("recipient_name") else None,
            "pod_rel": data.get("recipient_relationship"),
            "id": event.aggregate_id,
        },
    )

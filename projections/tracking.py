"""The tracking read model: one row per shipment, one per scan.

Personal values are kept only as the sealed strings the events carry (domain/sealing.py):
queries open them with the keyring, so erasing a subject's key blanks them here at once,
with nothing to scrub. Anything personal that is not sealed (events stored before issue
4) is dropped. Places are cities and area codes. Rows are written by `apply`, inside the
runner's transaction, with the search_path set to the projection's current generation.
"""

from datetime import datetime
from typing import Any

from psycopg import Cursor, sql
from psycopg.types.json import Jsonb

from domain.areas import city_of
from domain.booking import PERSONAL_FIELDS
from domain.public import PublicEvent
from domain.scans import SCAN_CODES, TERMINAL_KINDS
from domain.sealing import is_sealed
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
        shipper_name text,
        receiver_name text,
        shipper_account uuid,
        receiver_account uuid,
        shipper jsonb NOT NULL,
        receiver jsonb NOT NULL,
        weight_grams integer NOT NULL,
        cod boolean NOT NULL,
        cod_amount bigint,
        declared_value bigint NOT NULL,
        parcel jsonb NOT NULL,
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
    "CREATE INDEX ON shipments (shipper_account, booked_at DESC) WHERE shipper_account IS NOT NULL",
    """CREATE INDEX ON shipments (receiver_account, booked_at DESC)
       WHERE receiver_account IS NOT NULL""",
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
    elif event.type == "ShipmentPartyLinked":
        _linked(event, cur)


def _booked(event: PublicEvent, cur: Cursor[Any]) -> None:
    data, booking = event.data, event.data["booking"]
    shipper, receiver = _sealed_party(booking["shipper"]), _sealed_party(booking["receiver"])
    cur.execute(
        """INSERT INTO shipments (shipment_id, awb, service, origin_city, destination_city,
               shipper_name, receiver_name, shipper_account, receiver_account, shipper, receiver,
               weight_grams, cod, cod_amount, declared_value, parcel, booked_at, status,
               aggregate_version)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        (
            event.aggregate_id,
            data["awb"],
            booking["service"],
            city_of(shipper["area"]),
            city_of(receiver["area"]),
            shipper["name"],
            receiver["name"],
            data.get("shipper_account"),
            data.get("receiver_account"),
            Jsonb(shipper),
            Jsonb(receiver),
            booking["parcel"]["weight_grams"],
            booking["cod_amount"] is not None,
            booking["cod_amount"],
            booking["parcel"]["declared_value"],
            Jsonb(booking["parcel"]),
            data["booked_at"],
            BOOKED_STATUS,
            event.aggregate_version,
        ),
    )


def _linked(event: PublicEvent, cur: Cursor[Any]) -> None:
    column = {"shipper": "shipper_account", "receiver": "receiver_account"}[event.data["role"]]
    cur.execute(
        sql.SQL(
            "UPDATE shipments SET {} = %s, aggregate_version = %s WHERE shipment_id = %s"
        ).format(sql.Identifier(column)),
        (event.data["account"], event.aggregate_version, event.aggregate_id),
    )


def _sealed_party(party: dict[str, Any]) -> dict[str, Any]:
    return {**party, **{name: _sealed_or_none(party.get(name)) for name in PERSONAL_FIELDS}}


def _sealed_or_none(value: Any) -> str | None:
    return value if is_sealed(value) else None


def _scanned(event: PublicEvent, cur: Cursor[Any]) -> None:
    status, reason = status_for(event.data["code"])
    scanned_at = datetime.fromisoformat(event.data["scanned_at"])
    _insert_scan(event, cur, status, reason, scanned_at)
    cur.execute(
        """UPDATE shipments SET scan_count = scan_count + 1, aggregate_version = %(version)s
           WHERE shipment_id = %(id)s""",
        {"version": event.aggregate_version, "id": event.aggregate_id},
    )
    _set_status(event, cur, status, reason, scanned_at)


def _insert_scan(
    event: PublicEvent, cur: Cursor[Any], status: str, reason: str | None, scanned_at: datetime
) -> None:
    data = event.data
    code = data["code"]
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


def _set_status(
    event: PublicEvent, cur: Cursor[Any], status: str, reason: str | None, scanned_at: datetime
) -> None:
    """The latest scan by scan time sets the status; a closing scan always wins."""
    data = event.data
    closing = SCAN_CODES[data["code"]].kind in TERMINAL_KINDS
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
            "pod_name": _sealed_or_none(data.get("recipient_name")),
            "pod_rel": data.get("recipient_relationship"),
            "id": event.aggregate_id,
        },
    )

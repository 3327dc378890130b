"""The tracking read model: one row per shipment, one per scan.

Personal values are kept only as the sealed strings the events carry (domain/sealing.py):
queries open them with the keyring, so erasing a subject's key blanks them here at once,
with nothing to scrub. Anything personal that is not sealed (events stored before issue
4) is dropped. Places are cities and area codes. Rows are written by `apply`, inside the
runner's transaction, with the search_path set to the projection's current generation:
a whole batch is folded in memory (projections/tracking_document.py) from the rows it
touches, read in one statement, and written back in one statement per table.
"""

from collections.abc import Sequence
from typing import Any

from psycopg import Cursor
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from domain.booking import PERSONAL_FIELDS
from domain.public import PublicEvent
from projections.tracking_document import (
    Tracked,
    booked,
    linked,
    scan_row,
    scanned,
    sealed_or_none,
)

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
        public jsonb NOT NULL,
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
        public jsonb NOT NULL,
        PRIMARY KEY (shipment_id, scan_id)
    )""",
    "CREATE INDEX ON scans (shipment_id, scanned_at)",
)

CHANGES = ("ScanRecorded", "ShipmentPartyLinked")  # of a shipment booked before


def apply(event: PublicEvent, cur: Cursor[Any]) -> None:
    apply_batch([event], cur)


def apply_batch(events: Sequence[PublicEvent], cur: Cursor[Any]) -> None:
    """Fold the events, in order, into the rows they touch and write those rows."""
    touched = {e.aggregate_id for e in events if e.type in CHANGES}
    existing = _load(cur, touched)
    new: dict[str, Tracked] = {}
    facts: dict[str, PublicEvent] = {}
    scans: list[tuple[Any, ...]] = []
    for event in events:
        if event.type == "ShipmentBooked":
            new[event.aggregate_id] = booked(event)
            facts[event.aggregate_id] = event
            continue
        if event.type == "ScanRecorded":
            scans.append(scan_row(event))
        tracked = new.get(event.aggregate_id) or existing.get(event.aggregate_id)
        if tracked is None:  # not booked (yet): the scan row is kept, as it always was
            continue
        if event.type == "ScanRecorded":
            scanned(tracked, event)
        elif event.type == "ShipmentPartyLinked":
            linked(tracked, event)
    _insert_scans(cur, scans)
    _insert_shipments(cur, new, facts)
    _update_shipments(cur, existing)


STATE = """SELECT shipment_id::text AS shipment_id, public, closed, pod_receiver_name,
                  shipper_account::text, receiver_account::text, scan_count, aggregate_version
           FROM shipments WHERE shipment_id = ANY(%s::uuid[])"""


SCAN_COLUMNS = """shipment_id, scan_id, aggregate_version, scanned_at, recorded_at, code,
    description, status, reason, city, public"""
SHIPMENT_COLUMNS = """shipment_id, awb, service, origin_city, destination_city, shipper_name,
    receiver_name, shipper_account, receiver_account, shipper, receiver, weight_grams, cod,
    cod_amount, declared_value, parcel, booked_at, status, status_reason, status_at, closed,
    delivered_at, pod_receiver_name, pod_relationship, public, scan_count, aggregate_version"""
# Binary parameters (%b): a text array would escape every quote of every document.
UPDATE = """
UPDATE shipments SET status = u.status, status_reason = u.status_reason,
    status_at = u.status_at, closed = u.closed, delivered_at = u.delivered_at,
    pod_receiver_name = u.pod_receiver_name, pod_relationship = u.pod_relationship,
    public = u.public, scan_count = u.scan_count, aggregate_version = u.aggregate_version,
    shipper_account = u.shipper_account, receiver_account = u.receiver_account
FROM unnest(%b::text[], %b::text[], %b::timestamptz[], %b::bool[], %b::timestamptz[],
            %b::text[], %b::text[], %b::jsonb[], %b::int[], %b::int[], %b::uuid[], %b::uuid[],
            %b::uuid[])
    AS u(status, status_reason, status_at, closed, delivered_at, pod_receiver_name,
         pod_relationship, public, scan_count, aggregate_version, shipper_account,
         receiver_account, shipment_id)
WHERE shipments.shipment_id = u.shipment_id"""


def _load(cur: Cursor[Any], ids: set[str]) -> dict[str, Tracked]:
    if not ids:
        return {}
    with cur.connection.cursor(row_factory=dict_row) as rows:
        found = rows.execute(STATE, (list(ids),)).fetchall()
    return {row.pop("shipment_id"): Tracked(**row) for row in found}


def _insert_scans(cur: Cursor[Any], rows: list[tuple[Any, ...]]) -> None:
    if rows:
        _copy(cur, "scans", SCAN_COLUMNS, [(*row[:-1], Jsonb(row[-1])) for row in rows])


def _copy(cur: Cursor[Any], table: str, columns: str, rows: list[tuple[Any, ...]]) -> None:
    with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _insert_shipments(
    cur: Cursor[Any], new: dict[str, Tracked], facts: dict[str, PublicEvent]
) -> None:
    if not new:
        return
    rows = [_booking_row(facts[shipment_id], tracked) for shipment_id, tracked in new.items()]
    _copy(cur, "shipments", SHIPMENT_COLUMNS, rows)


def _booking_row(event: PublicEvent, tracked: Tracked) -> tuple[Any, ...]:
    booking, public = event.data["booking"], tracked.public
    shipper, receiver = _sealed_party(booking["shipper"]), _sealed_party(booking["receiver"])
    return (
        event.aggregate_id,
        public["awb"],
        public["service"],
        public["origin_city"],
        public["destination_city"],
        shipper["name"],
        receiver["name"],
        tracked.shipper_account,
        tracked.receiver_account,
        Jsonb(shipper),
        Jsonb(receiver),
        public["weight_grams"],
        public["cod"],
        booking["cod_amount"],
        booking["parcel"]["declared_value"],
        Jsonb(booking["parcel"]),
        event.data["booked_at"],
        *_mutable(tracked),
    )


def _update_shipments(cur: Cursor[Any], existing: dict[str, Tracked]) -> None:
    if not existing:
        return
    rows = [
        (*_mutable(t), t.shipper_account, t.receiver_account, shipment_id)
        for shipment_id, t in existing.items()
    ]
    cur.execute(UPDATE, [list(column) for column in zip(*rows, strict=True)])


def _mutable(tracked: Tracked) -> tuple[Any, ...]:
    public = tracked.public
    return (
        public["status"],
        public["status_reason"],
        public["status_at"],
        tracked.closed,
        public["delivered_at"],
        tracked.pod_receiver_name,
        public["pod_relationship"],
        Jsonb(public),
        tracked.scan_count,
        tracked.aggregate_version,
    )


def _sealed_party(party: dict[str, Any]) -> dict[str, Any]:
    return {**party, **{name: sealed_or_none(party.get(name)) for name in PERSONAL_FIELDS}}

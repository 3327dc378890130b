"""Read queries over the tracking views (the active generation).

The read model holds personal values sealed; each query opens the ones it answers with in
a single key look-up (`unseal`, or the keys read along with the public document), so an
erased subject's values come back as None.
"""

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection, Connection
from psycopg.rows import dict_row

from domain.areas import city_of
from domain.booking import PERSONAL_FIELDS, ROLES
from domain.masking import mask_name
from domain.sealing import is_sealed
from projections.tracking_document import NAME_FIELDS

Unseal = Callable[[Iterable[str | None]], Mapping[str, str | None]]
OpenSealed = Callable[[str, bytes], str | None]  # a sealed value, its subject's wrapped key
Row = dict[str, Any]


# The most recent booking of a (recycled) AWB, its history in scan-time order, and each
# masked name sealed, with the wrapped key of the subject it names (`pii1:<subject>:…`,
# domain/sealing.py), NULL once erased: one statement on indexes, keys included.
PUBLIC = """
SELECT DISTINCT ON (s.awb) s.awb, s.public::text,
       (SELECT coalesce(json_agg(c.public ORDER BY c.scanned_at, c.aggregate_version), '[]')
        FROM tracking_scans c WHERE c.shipment_id = s.shipment_id)::text,
       s.shipper_name, s.receiver_name, s.pod_receiver_name,
       (SELECT wrapped FROM data_keys WHERE subject = split_part(s.shipper_name, ':', 2)::uuid),
       (SELECT wrapped FROM data_keys WHERE subject = split_part(s.receiver_name, ':', 2)::uuid),
       (SELECT wrapped FROM data_keys
        WHERE subject = split_part(s.pod_receiver_name, ':', 2)::uuid)
FROM tracking_shipments s WHERE s.awb = ANY(%s)
ORDER BY s.awb, s.booked_at DESC"""

SCANS = """
SELECT shipment_id, scanned_at, code, description, status, reason, city
FROM tracking_scans WHERE shipment_id = ANY(%s)
ORDER BY shipment_id, scanned_at, aggregate_version"""

OWNED = """
SELECT shipment_id, awb, service, shipper, receiver, parcel, cod_amount, booked_at, status,
       status_reason, status_at, delivered_at, pod_receiver_name, pod_relationship,
       CASE WHEN shipper_account = %(account)s THEN 'shipper' ELSE 'receiver' END AS role
FROM tracking_shipments
WHERE (shipper_account = %(account)s OR receiver_account = %(account)s)
  AND (%(awb)s::text IS NULL OR awb = %(awb)s::text)
  AND (%(before)s::text IS NULL OR (booked_at, awb) < (
      SELECT booked_at, awb FROM tracking_shipments WHERE awb = %(before)s::text
      ORDER BY booked_at DESC LIMIT 1))
ORDER BY booked_at DESC, awb DESC
LIMIT %(limit)s"""

# One statement, so every total comes from the same snapshot.
AUDIT = """
SELECT grouping(status, service) AS grouped, status, service, count(*) AS shipments,
       coalesce(sum(cod_amount), 0) AS cod_amount, coalesce(sum(declared_value), 0) AS declared
FROM tracking_shipments
GROUP BY GROUPING SETS ((status), (service), ())"""
BY_STATUS, BY_SERVICE = 0b01, 0b10  # grouping(status, service): a bit per column rolled up


def public_documents(
    conn: Connection[Any], awbs: list[str], open_sealed: OpenSealed
) -> dict[str, bytes]:
    """Public tracking answers by AWB, as JSON: the stored document with the names masked
    (None once erased)."""
    return _answers(conn.execute(PUBLIC, (awbs,)).fetchall(), open_sealed)


async def public_documents_async(
    conn: AsyncConnection[Any], awbs: list[str], open_sealed: OpenSealed
) -> dict[str, bytes]:
    cursor = await conn.execute(PUBLIC, (awbs,))
    return _answers(await cursor.fetchall(), open_sealed)


def _answers(rows: list[tuple[Any, ...]], open_sealed: OpenSealed) -> dict[str, bytes]:
    answers = {}
    for awb, document, history, *found in rows:
        sealed, keys = found[: len(NAME_FIELDS)], found[len(NAME_FIELDS) :]
        names = {
            field: _masked(open_sealed(value, key) if value and key else None)
            for field, value, key in zip(NAME_FIELDS, sealed, keys, strict=True)
        }
        answers[awb] = f'{document[:-1]}, "history": {history}, {json.dumps(names)[1:]}'.encode()
    return answers


def owned_shipments(
    conn: Connection[Any],
    account_id: UUID,
    unseal: Unseal,
    limit: int,
    before: str | None = None,
) -> list[dict[str, Any]]:
    """The account's shipments as shipper or receiver, newest first, in full and unmasked.
    `before` pages on: the AWB of the last shipment of the previous page."""
    return _owned(conn, unseal, account=account_id, awb=None, before=before, limit=limit)


def owned_shipment(
    conn: Connection[Any], account_id: UUID, awb: str, unseal: Unseal
) -> dict[str, Any] | None:
    """One shipment in full, or None when the AWB is unknown or not the account's."""
    found = _owned(conn, unseal, account=account_id, awb=awb, before=None, limit=1)
    return found[0] if found else None


def audit_totals(conn: Connection[Any]) -> dict[str, Any]:
    """Non-personal totals for auditors: no erasure may change them."""
    totals: dict[str, Any] = {"by_status": {}, "by_service": {}}  # () gives the overall row
    with conn.cursor(row_factory=dict_row) as cur:
        for row in cur.execute(AUDIT).fetchall():
            if row["grouped"] == BY_STATUS:
                totals["by_status"][row["status"]] = row["shipments"]
            elif row["grouped"] == BY_SERVICE:
                totals["by_service"][row["service"]] = row["shipments"]
            else:
                totals["shipments"] = row["shipments"]
                totals["cod_amount_total"] = int(row["cod_amount"])
                totals["declared_value_total"] = int(row["declared"])
    return totals


def positions(conn: Connection[Any], topic: str) -> dict[int, int]:
    rows = conn.execute(
        "SELECT partition, notification_id FROM tracking_positions WHERE topic = %s", (topic,)
    ).fetchall()
    return dict(rows)


def _attach_history(conn: Connection[Any], shipments: Iterable[Row]) -> None:
    """Give each shipment row its scans in scan-time order, under "history"."""
    by_id = {row.pop("shipment_id"): row for row in shipments}
    for row in by_id.values():
        row["history"] = []
    with conn.cursor(row_factory=dict_row) as cur:
        for scan in cur.execute(SCANS, (list(by_id),)).fetchall():
            by_id[scan.pop("shipment_id")]["history"].append(scan)


def _owned(conn: Connection[Any], unseal: Unseal, **params: Any) -> list[Row]:
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(OWNED, params).fetchall()
    _attach_history(conn, rows)
    opened = unseal(_sealed_values(rows))
    for row in rows:
        row["shipper"] = _opened_party(row["shipper"], opened)
        row["receiver"] = _opened_party(row["receiver"], opened)
        row["pod_receiver_name"] = opened.get(row["pod_receiver_name"] or "")
        row["parcel"] = _opened_parcel(row["parcel"], opened)
    return rows


def _sealed_values(rows: Iterable[Row]) -> list[str | None]:
    values: list[str | None] = []
    for row in rows:
        values += [row[role].get(name) for role in ROLES for name in PERSONAL_FIELDS]
        values += [row["pod_receiver_name"], row["parcel"].get("description")]
    return values


def _opened_parcel(parcel: Row, opened: Mapping[str, str | None]) -> Row:
    """The description opened (None once erased); one stored in clear, as it is."""
    description = parcel.get("description")
    if isinstance(description, str) and is_sealed(description):
        description = opened.get(description)
    return {**parcel, "description": description}


def _opened_party(party: Row, opened: Mapping[str, str | None]) -> Row:
    values = {name: opened.get(party.get(name) or "") for name in PERSONAL_FIELDS}
    return {**values, "area": party["area"], "city": city_of(party["area"])}


def _masked(name: str | None) -> str | None:
    return mask_name(name) if name else None

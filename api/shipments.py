"""Commands on shipments: booking (customers, counter devices) and scans (couriers,
hub operators, devices)."""

import asyncio
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response
from pydantic import BaseModel

from api.access import Principal, PrincipalDep, allow
from api.deps import ContainerDep
from api.errors import error_responses
from api.shipment_models import (
    BookingIn,
    BookingOut,
    ScanBatchIn,
    ScanBatchOut,
    ScanIn,
    ScanOut,
    ScanRecordedOut,
)
from api.timing import client_address
from commands.container import Container
from commands.scan_writer import Answer
from domain import waybill
from domain.shipments import Scan

router = APIRouter(prefix="/v1", tags=["shipments"])
IdempotencyKey = Annotated[
    str | None,
    Header(min_length=8, max_length=100, description="Retrying with the same key books once."),
]


@router.post(
    "/shipments",
    status_code=201,
    response_model=BookingOut,
    responses=error_responses(400, 401, 403, 409, 413, 422, 429),
    **allow("book"),
)
def book_shipment(
    body: BookingIn,
    request: Request,
    container: ContainerDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKey = None,
) -> BookingOut:
    """Book a shipment; returns its waybill number (AWB). A signed-in customer is the
    shipper; a party whose e-mail is a customer's verified address is linked to them, now or
    when they verify it. Rate limited per account or device key, and per client address."""
    now = datetime.now(UTC)
    container.rate_limits.booking(principal.actor, client_address(request), now)
    booking_key = f"{principal.actor}:{idempotency_key}" if idempotency_key else None
    booked = container.party_links.book(
        body.to_domain(),
        actor=principal.actor,
        now=now,
        booking_key=booking_key,
        shipper=principal.account_id,
    )
    return BookingOut(
        awb=booked.awb, consistency_token=container.consistency_token("shipments", booked.written)
    )


@router.post(
    "/shipments/{awb}/scans",
    status_code=201,
    response_model=ScanRecordedOut,
    responses={
        200: {"model": ScanRecordedOut, "description": "Already recorded."},
        **error_responses(400, 401, 403, 404, 409, 413, 422),
    },
    **allow("scan"),
)
async def record_scan(
    awb: str, body: ScanIn, container: ContainerDep, principal: PrincipalDep
) -> Response:
    """Record one scan of a shipment. A repeated scan_id answers 200 with the first result."""
    scans = [(waybill.normalise(awb), _scan(body, principal))]
    (outcome,), written = await _committed(container, scans, batch=False)
    answer = ScanRecordedOut(
        **vars(outcome), consistency_token=container.consistency_token("shipments", written)
    )
    return _json(answer, 201 if outcome.recorded else 200)


@router.post(
    "/scans",
    status_code=201,
    response_model=ScanBatchOut,
    responses=error_responses(400, 401, 403, 409, 413, 422),
    **allow("scan"),
)
async def record_scans(
    body: ScanBatchIn, container: ContainerDep, principal: PrincipalDep
) -> Response:
    """Record up to 500 scans at once: all are stored, or none (422 lists the bad items)."""
    scans = [(waybill.normalise(item.awb), _scan(item, principal)) for item in body.scans]
    outcomes, written = await _committed(container, scans, batch=True)
    answer = ScanBatchOut(
        scans=[ScanOut(**vars(o)) for o in outcomes],
        consistency_token=container.consistency_token("shipments", written),
    )
    return _json(answer, 201)


async def _committed(container: Container, scans: list[tuple[str, Scan]], *, batch: bool) -> Answer:
    """Wait, without holding a thread, for the group commit that holds these scans."""
    future = container.shipments.queue_scans(scans, datetime.now(UTC), batch=batch)
    return await asyncio.wrap_future(future)


def _json(answer: BaseModel, status_code: int) -> Response:
    # Serialised once: returning the model would have FastAPI validate it again first.
    return Response(answer.model_dump_json(), status_code, media_type="application/json")


def _scan(body: ScanIn, principal: Principal) -> Scan:
    return Scan(
        scan_id=body.scan_id,
        code=body.code,
        scanned_at=body.scanned_at,
        location=body.location,
        actor=principal.actor,
        hub=principal.hub,
        by_courier=principal.courier is not None,
        recipient_name=body.recipient_name,
        recipient_relationship=body.recipient_relationship,
        latitude=body.latitude,
        longitude=body.longitude,
    )

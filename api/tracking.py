"""Public tracking: anyone with a waybill number, no login. No personal data leaves here:
names are opened only to be masked, places are cities.

The busiest public page, so it is served from the event loop: one indexed SELECT through
an asynchronous pool returns the document the projection keeps ready, plus the keys to
open the masked names; its bytes are the answer (the models below document them).

Lookups of waybills that do not exist are rate limited per client address (enumeration):
past the limit, every lookup from that address answers 429 until its window ends. A real
waybill's lookup costs no extra database round trip: the lock is checked in memory, and
misses are counted only after the lookup found nothing.
"""

import json
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api import read_pool
from api.access import allow
from api.consistency import Token, wait_for
from api.errors import error_responses
from api.timing import client_address
from commands.container import Container
from domain import waybill
from domain.errors import NotFound, RuleViolation
from projections.statuses import MAPPING_VERSION
from projections.tracking_queries import positions, public_documents_async

router = APIRouter(prefix="/v1", tags=["tracking"])
MAX_AWBS = 25


class ScanView(BaseModel):
    scanned_at: datetime
    code: str
    description: str
    status: str
    reason: str | None
    city: str


class TrackingView(BaseModel):
    awb: str
    service: str
    origin_city: str
    destination_city: str
    shipper_name: str | None = Field(description="Masked: initials only; null once erased.")
    receiver_name: str | None = Field(description="Masked: initials only; null once erased.")
    weight_grams: int
    cod: bool
    booked_at: datetime
    status: str
    status_reason: str | None
    status_at: datetime | None
    delivered_at: datetime | None
    pod_receiver_name: str | None = Field(description="Masked: initials only; null once erased.")
    pod_relationship: str | None
    history: list[ScanView]
    status_mapping_version: int = MAPPING_VERSION


class TrackingBatchView(BaseModel):
    shipments: list[TrackingView]
    not_found: list[str]
    invalid: list[str]


@router.get(
    "/track/{awb}",
    response_model=TrackingView,
    responses=error_responses(400, 404, 422, 429, 503),
    **allow("public"),
)
async def track(awb: str, request: Request, consistency_token: Token = None) -> Response:
    """Track one shipment by its waybill number."""
    number = waybill.normalise(awb)
    if not waybill.is_valid(number):
        raise RuleViolation("Not a valid waybill number.", code="invalid_awb")
    found = await _find(request, [number], consistency_token)
    if number not in found:
        await _count_misses(request, 1)
        raise NotFound(f"No shipment with waybill {number}.", code="shipment_not_found")
    return _json(found[number])


@router.get(
    "/track",
    response_model=TrackingBatchView,
    responses=error_responses(400, 422, 429, 503),
    **allow("public"),
)
async def track_many(
    request: Request,
    awb: Annotated[str, Query(max_length=1000, description="Up to 25 AWBs, comma-separated.")],
    consistency_token: Token = None,
) -> Response:
    """Track up to 25 shipments at once."""
    numbers = list(dict.fromkeys(waybill.normalise(a) for a in awb.split(",") if a.strip()))
    if not numbers or len(numbers) > MAX_AWBS:
        raise RuleViolation("Give between 1 and 25 waybill numbers.", code="too_many_awbs")
    valid = [n for n in numbers if waybill.is_valid(n)]
    found = await _find(request, valid, consistency_token)
    shipments = b",".join(found[n] for n in valid if n in found)
    rest = {
        "not_found": [n for n in valid if n not in found],
        "invalid": [n for n in numbers if n not in valid],
    }
    if rest["not_found"]:
        await _count_misses(request, len(rest["not_found"]))
    return _json(b'{"shipments":[' + shipments + b"]," + json.dumps(rest).encode()[1:])


async def _find(request: Request, awbs: list[str], token: str | None) -> dict[str, bytes]:
    container: Container = request.app.state.container
    client = client_address(request)
    container.rate_limits.tracking_locked(client, datetime.now(UTC))
    if token:
        await run_in_threadpool(wait_for, container, "shipments", positions, token, client)
    if not awbs:
        return {}
    async with read_pool.read_pool(request).connection() as conn:
        return await public_documents_async(conn, awbs, container.keyring.open_sealed)


def _json(body: bytes) -> Response:
    return Response(body, media_type="application/json")


async def _count_misses(request: Request, misses: int) -> None:
    container: Container = request.app.state.container
    limits, client = container.rate_limits, client_address(request)
    await run_in_threadpool(limits.tracking_misses, client, misses, datetime.now(UTC))

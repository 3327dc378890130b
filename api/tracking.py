"""Public tracking: anyone with a waybill number, no login. No personal data leaves here:
names are opened only to be masked, places are cities."""

from datetime import datetime
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.access import allow
from api.consistency import ReadModelWatch
from api.deps import ContainerDep
from api.errors import error_responses
from domain import waybill
from domain.errors import NotFound, RuleViolation
from infra.messaging.kafka import topic_for
from projections.statuses import MAPPING_VERSION
from projections.tracking_queries import find_shipments, positions

router = APIRouter(prefix="/v1", tags=["tracking"])
MAX_AWBS = 25
Token = Annotated[
    str | None,
    Query(max_length=20_000, description="From a command's answer: wait until it is visible."),
]


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
    responses=error_responses(400, 404, 422, 503),
    **allow("public"),
)
def track(awb: str, container: ContainerDep, consistency_token: Token = None) -> TrackingView:
    """Track one shipment by its waybill number."""
    number = waybill.normalise(awb)
    if not waybill.is_valid(number):
        raise RuleViolation("Not a valid waybill number.", code="invalid_awb")
    found = _find(container, [number], consistency_token)
    if number not in found:
        raise NotFound(f"No shipment with waybill {number}.", code="shipment_not_found")
    return TrackingView(**found[number])


@router.get(
    "/track",
    response_model=TrackingBatchView,
    responses=error_responses(400, 422, 503),
    **allow("public"),
)
def track_many(
    container: ContainerDep,
    awb: Annotated[str, Query(max_length=1000, description="Up to 25 AWBs, comma-separated.")],
    consistency_token: Token = None,
) -> TrackingBatchView:
    """Track up to 25 shipments at once."""
    numbers = list(dict.fromkeys(waybill.normalise(a) for a in awb.split(",") if a.strip()))
    if not numbers or len(numbers) > MAX_AWBS:
        raise RuleViolation("Give between 1 and 25 waybill numbers.", code="too_many_awbs")
    valid = [n for n in numbers if waybill.is_valid(n)]
    found = _find(container, valid, consistency_token)
    return TrackingBatchView(
        shipments=[TrackingView(**found[n]) for n in valid if n in found],
        not_found=[n for n in valid if n not in found],
        invalid=[n for n in numbers if n not in valid],
    )


def _find(container: ContainerDep, awbs: list[str], token: str | None) -> dict[str, Any]:
    if token:
        recorder = container.shipments.recorder
        ReadModelWatch(
            container.pool,
            topic_for(container.settings, "shipments"),
            positions,
            container.consistency_waiters,
            container.settings.consistency_wait_max_s,
        ).wait_for(token, lambda: recorder.max_notification_id() or 0)
    with container.pool.connection() as conn:
        return find_shipments(conn, awbs, partial(container.keyring.unseal_many, conn=conn))

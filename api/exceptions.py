"""Custody exceptions for staff: scans accepted but worth a look (a misroute, a parcel
that turned up in another city without leaving a hub)."""

import base64
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.access import PrincipalDep, allow
from api.consistency import Token, wait_for
from api.deps import ContainerDep
from api.errors import error_responses
from domain.custody import LOCATION_JUMP, MISROUTE
from domain.errors import RuleViolation
from projections import custody_queries

router = APIRouter(prefix="/v1", tags=["custody"])
PAGE_MAX = 200
ANOMALIES = (MISROUTE, LOCATION_JUMP)


class CustodyException(BaseModel):
    anomaly: str = Field(description="misroute or location_jump")
    awb: str | None = Field(description="Null until the tracking read model has the shipment.")
    scan_id: UUID
    code: str
    location: str
    actor: str = Field(description="The device key id or account that scanned.")
    scanned_at: datetime
    recorded_at: datetime


class CustodyExceptions(BaseModel):
    exceptions: list[CustodyException] = Field(description="Newest first.")
    next_after: str | None = Field(
        description="Pass as `after` for the next page; null at the end."
    )


@router.get(
    "/exceptions",
    response_model=CustodyExceptions,
    responses=error_responses(401, 403, 422, 503),
    **allow("exceptions"),
)
def exceptions(
    container: ContainerDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = 50,
    after: Annotated[str | None, Query(max_length=200, description="next_after")] = None,
    consistency_token: Token = None,
) -> CustodyExceptions:
    """Anomalies recorded on accepted scans, newest first (hub operators, admins, auditors)."""
    if consistency_token:
        client = principal.actor  # staff: their own share of the wait slots
        wait_for(container, "shipments", custody_queries.positions, consistency_token, client)
    with container.pool.connection() as conn:
        rows = custody_queries.exceptions(conn, limit, _cursor(after) if after else None)
    full = len(rows) == limit
    return CustodyExceptions(
        exceptions=[CustodyException(**row) for row in rows],
        next_after=_next(rows[-1]) if full else None,
    )


def _next(row: dict[str, Any]) -> str:
    raw = f"{row['recorded_at'].isoformat()}|{row['scan_id']}|{row['anomaly']}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _cursor(after: str) -> tuple[str, UUID, str]:
    try:
        recorded_at, scan_id, anomaly = base64.urlsafe_b64decode(after).decode().split("|")
        if anomaly not in ANOMALIES:
            raise ValueError(anomaly)
        return datetime.fromisoformat(recorded_at).isoformat(), UUID(scan_id), anomaly
    except ValueError:
        raise RuleViolation(
            "`after` is not a cursor this API gave.", code="invalid_cursor"
        ) from None

"""A customer's own shipments, in full, and the export of everything held about them."""

from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.access import PrincipalDep, allow, owned_shipment
from api.consistency import Token, wait_for
from api.deps import ContainerDep
from api.errors import error_responses
from api.me import profile_of
from api.me_models import OwnedShipment, OwnedShipments
from commands.container import Container
from infra.postgres import sessions
from projections import tracking_queries

router = APIRouter(prefix="/v1", tags=["me"])
PAGE_MAX = 100
EXPORT_PAGE = 500
EMAIL_FIELDS = ("template", "status", "event_at", "sent_at")


@router.get(
    "/me/shipments",
    response_model=OwnedShipments,
    responses=error_responses(401, 403, 422, 429, 503),
    **allow("customer"),
)
def my_shipments(
    principal: PrincipalDep,
    container: ContainerDep,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = 20,
    before: Annotated[str | None, Query(max_length=20, description="next_before")] = None,
    consistency_token: Token = None,
) -> OwnedShipments:
    """Shipments you sent or receive, newest first, in full."""
    if consistency_token:
        client = principal.actor  # signed in: a NAT's other customers keep their own share
        wait_for(container, "shipments", tracking_queries.positions, consistency_token, client)
    rows = _page(container, principal.require_account(), limit, before)
    return OwnedShipments.page(rows, limit)


@router.get(
    "/me/shipments/{awb}",
    response_model=OwnedShipment,
    responses=error_responses(401, 403, 404, 429, 503),
    **allow("customer"),
)
def my_shipment(
    awb: str, principal: PrincipalDep, container: ContainerDep, consistency_token: Token = None
) -> OwnedShipment:
    """One of your shipments in full (404 if it is not yours)."""
    if consistency_token:
        client = principal.actor  # signed in: a NAT's other customers keep their own share
        wait_for(container, "shipments", tracking_queries.positions, consistency_token, client)
    return OwnedShipment(**owned_shipment(container, principal, awb))


class Export(BaseModel):
    exported_at: datetime
    account: dict[str, Any]
    shipments: list[OwnedShipment]
    sessions: list[dict[str, Any]]
    emails: list[dict[str, Any]]


@router.get(
    "/me/export", response_model=Export, responses=error_responses(401, 403), **allow("customer")
)
def export(principal: PrincipalDep, container: ContainerDep) -> Export:
    """Everything held about you, as JSON (your right of access)."""
    account_id = principal.require_account()
    shipments: list[dict[str, Any]] = []
    before: str | None = None
    while True:
        page = _page(container, account_id, EXPORT_PAGE, before)
        shipments += page
        if len(page) < EXPORT_PAGE:
            break
        before = page[-1]["awb"]
    with container.pool.connection() as conn:
        held_sessions = sessions.sessions_of(conn, account_id)
        emails = conn.execute(
            """SELECT template, status, event_at, done_at FROM mail_queue
               WHERE account_id = %s ORDER BY event_at""",
            (account_id,),
        ).fetchall()
    return Export(
        exported_at=datetime.now(UTC),
        account=profile_of(container, account_id),
        shipments=[OwnedShipment(**row) for row in shipments],
        sessions=held_sessions,
        emails=[
            dict(zip(("template", "status", "event_at", "sent_at"), e, strict=True)) for e in emails
        ],
    )


def _page(
    container: Container, account_id: UUID, limit: int, before: str | None
) -> list[dict[str, Any]]:
    with container.pool.connection() as conn:
        unseal = partial(container.keyring.unseal_many, conn=conn)
        return tracking_queries.owned_shipments(conn, account_id, unseal, limit, before)

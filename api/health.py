"""Liveness and readiness for load balancers and operators."""

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.access import allow
from api.deps import ContainerDep

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    database: Literal["ok", "unreachable"]


@router.get(
    "/healthz", response_model=Health, responses={503: {"model": Health}}, **allow("public")
)
def healthz(container: ContainerDep) -> JSONResponse:
    """200 when the API can reach its database, 503 otherwise."""
    try:
        with container.pool.connection(timeout=2) as conn:
            conn.execute("SELECT 1")
    except Exception:
        return JSONResponse(Health(status="unavailable", database="unreachable").model_dump(), 503)
    return JSONResponse(Health(status="ok", database="ok").model_dump())

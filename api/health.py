"""Liveness and readiness for load balancers and operators."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import ContainerDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(container: ContainerDep) -> JSONResponse:
    """200 when the API can reach its database, 503 otherwise."""
    try:
        with container.pool.connection(timeout=2) as conn:
            conn.execute("SELECT 1")
    except Exception:
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, 503)
    return JSONResponse({"status": "ok", "database": "ok"})

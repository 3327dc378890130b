"""What auditors read: non-personal totals that no erasure can change."""

from fastapi import APIRouter

from api.access import allow
from api.deps import ContainerDep
from api.errors import error_responses
from api.me_models import AuditTotals
from projections.tracking_queries import audit_totals

router = APIRouter(prefix="/v1", tags=["audit"])


@router.get(
    "/audit/totals",
    response_model=AuditTotals,
    responses=error_responses(401, 403),
    **allow("audit"),
)
def totals(container: ContainerDep) -> AuditTotals:
    """Shipments by status and service, and COD and declared-value totals in rupiah."""
    with container.pool.connection() as conn:
        return AuditTotals(**audit_totals(conn))

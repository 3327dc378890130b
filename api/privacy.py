"""The privacy policy in force: public, no login, read from the accounts read model."""

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import ContainerDep
from api.errors import error_responses
from domain.errors import NotFound
from projections.accounts_queries import current_policy

router = APIRouter(prefix="/v1", tags=["privacy"])


class PrivacyPolicyView(BaseModel):
    version: int = Field(description="Increases by one with every published revision.")
    text: str = Field(description="Markdown.")
    published_at: datetime


@router.get("/privacy-policy", response_model=PrivacyPolicyView, responses=error_responses(404))
def privacy_policy(container: ContainerDep) -> PrivacyPolicyView:
    """The current privacy policy."""
    with container.pool.connection() as conn:
        policy = current_policy(conn)
    if policy is None:
        raise NotFound("No privacy policy is published yet.", code="privacy_policy_not_published")
    return PrivacyPolicyView(
        version=policy["policy_version"], text=policy["text"], published_at=policy["published_at"]
    )

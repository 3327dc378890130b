"""The privacy policy in force: public, no login, read from the accounts read model."""

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from api.access import allow
from api.consistency import Token, wait_for
from api.deps import ContainerDep
from api.errors import error_responses
from api.timing import client_address
from domain.errors import NotFound
from domain.privacy import MAX_TEXT_CHARS
from projections.accounts_queries import current_policy, positions

router = APIRouter(prefix="/v1", tags=["privacy"])


class PrivacyPolicyView(BaseModel):
    version: int = Field(description="Increases by one with every published revision.")
    text: str = Field(description="Markdown.")
    published_at: datetime


class PolicyTextIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS, description="Markdown.")


class Published(BaseModel):
    consistency_token: str


@router.get(
    "/privacy-policy",
    response_model=PrivacyPolicyView,
    responses=error_responses(404, 429, 503),
    **allow("public"),
)
def privacy_policy(
    request: Request, container: ContainerDep, consistency_token: Token = None
) -> PrivacyPolicyView:
    """The current privacy policy."""
    if consistency_token:
        wait_for(container, "accounts", positions, consistency_token, client_address(request))
    with container.pool.connection() as conn:
        policy = current_policy(conn)
    if policy is None:
        raise NotFound("No privacy policy is published yet.", code="privacy_policy_not_published")
    return PrivacyPolicyView(
        version=policy["policy_version"], text=policy["text"], published_at=policy["published_at"]
    )


@router.put(
    "/privacy-policy",
    response_model=Published,
    responses=error_responses(400, 401, 403, 413, 422),
    **allow("admin"),
)
def publish_privacy_policy(body: PolicyTextIn, container: ContainerDep) -> Published:
    """Publish a new version of the privacy policy (admins only); its history is kept."""
    written = container.accounts.publish_policy(body.text, datetime.now(UTC))
    token = container.consistency_token("accounts", written)
    return Published(consistency_token=token)

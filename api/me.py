"""The signed-in person: their profile, password, e-mail address, and erasure."""

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from api.access import Principal, PrincipalDep, allow
from api.account_models import Done, EmailChangeIn, ErasureIn, PasswordChangeIn, Profile, SessionOut
from api.deps import ContainerDep
from api.errors import error_responses
from api.timing import client_address
from domain.errors import Forbidden, NotFound

router = APIRouter(prefix="/v1", tags=["me"])


@router.get("/me", response_model=Profile, responses=error_responses(401, 404), **allow("self"))
def me(principal: PrincipalDep, container: ContainerDep) -> Profile:
    """Your own account, unmasked."""
    return Profile(**profile_of(container, principal.require_account()))


def profile_of(container: ContainerDep, account_id: UUID) -> dict[str, Any]:
    """The account as held, unsealed: from the event store, so it is never behind a write."""
    account = container.identity.account(account_id)
    sealed = [account.user_id, account.email, account.display_name, account.phone]
    pending = account.pending_change[1] if account.pending_change else None
    opened = container.keyring.unseal_many([*sealed, pending])
    if account.erased_at is not None:
        raise NotFound("No such account.", code="account_not_found")
    return {
        "account_id": str(account.id),
        "user_id": opened.get(account.user_id),
        "role": account.role,
        "email": opened.get(account.email) if account.email else None,
        "email_verified": account.email_verified_at is not None,
        "pending_email": opened.get(pending) if pending else None,
        "display_name": opened.get(account.display_name),
        "phone": opened.get(account.phone) if account.phone else None,
        "registered_at": account.registered_at,
        "privacy_policy_version": account.privacy_policy_version,
    }


@router.post(
    "/me/password",
    response_model=SessionOut,
    responses=error_responses(400, 401, 413, 422, 429, 503),
    **allow("self"),
)
async def change_password(
    body: PasswordChangeIn, request: Request, principal: PrincipalDep, container: ContainerDep
) -> SessionOut:
    """Change your password: every session ends, and a new one is returned."""
    signed = await run_in_threadpool(
        container.signin.change_password,
        principal.require_account(),
        body.current_password,
        body.new_password,
        client_address(request),
        datetime.now(UTC),
        _session_token(principal),
    )
    return SessionOut(
        token=signed.session.token,
        expires_at=signed.session.expires_at,
        role=signed.role,
        must_change_password=False,
        device_token=None,
        mfa_enrolment_required=signed.mfa_enrolment_required,
    )


@router.post(
    "/me/email",
    status_code=202,
    response_model=Done,
    responses=error_responses(400, 401, 403, 413, 422, 429, 503),
    **allow("customer"),
)
async def change_email(
    body: EmailChangeIn, request: Request, principal: PrincipalDep, container: ContainerDep
) -> Done:
    """Change your e-mail address: it takes effect once confirmed from the new address,
    and the old address is told."""
    account_id, now = principal.require_account(), datetime.now(UTC)
    new_key = container.identity.email_key(body.new_email)
    await run_in_threadpool(container.rate_limits.email_change, str(account_id), new_key, now)
    await run_in_threadpool(
        container.signin.reauthenticate,
        account_id,
        body.current_password,
        client_address(request),
        now,
        _session_token(principal),
    )
    written = await run_in_threadpool(
        container.identity.request_email_change, account_id, body.new_email, now
    )
    token = container.consistency_token("accounts", written)
    return Done(status="confirmation_sent", consistency_token=token)


@router.delete(
    "/me",
    status_code=204,
    responses=error_responses(400, 401, 403, 413, 422, 429, 503),
    **allow("customer"),
)
async def erase_me(
    body: ErasureIn, request: Request, principal: PrincipalDep, container: ContainerDep
) -> Response:
    """Erase your account and personal data for good (your key is destroyed); shipments
    and money movements keep only their non-personal facts."""
    await run_in_threadpool(
        container.signin.erase,
        principal.require_account(),
        body.password,
        client_address(request),
        datetime.now(UTC),
        _session_token(principal),
    )
    return Response(status_code=204)


def _session_token(principal: Principal) -> str:
    """Re-authentication counts in the bucket of the device this session was issued to."""
    if principal.session_token is None:
        raise Forbidden("Only a signed-in person can do this.", code="forbidden")
    return principal.session_token

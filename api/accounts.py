"""Public account flows: register, verify the e-mail, reset a password, confirm a new
address. None of the answers says whether an account exists, and the ones that could
leak it by timing take a fixed minimum time. Registration and reset requests are rate
limited (commands/rate_limits.py) before any password is hashed or e-mail sent."""

from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from api.access import SessionAccountDep, allow
from api.account_models import (
    Accepted,
    AddressProofIn,
    Done,
    LinkTokenIn,
    PasswordResetConfirmIn,
    PasswordResetIn,
    RegistrationIn,
)
from api.deps import ContainerDep
from api.errors import error_responses
from api.timing import at_least, client_address
from commands.accounts.identity import NewAccount
from commands.container import Container
from commands.writes import Written
from domain.accounts import normalise_user_id
from domain.errors import Unauthenticated

router = APIRouter(prefix="/v1", tags=["accounts"])


@router.post(
    "/accounts",
    status_code=202,
    response_model=Accepted,
    responses=error_responses(400, 413, 422, 429, 503),
    **allow("public"),
)
async def register(body: RegistrationIn, request: Request, container: ContainerDep) -> Accepted:
    """Register; the account works once the e-mailed link is followed."""
    new = NewAccount(body.user_id, body.email, body.password, body.display_name, body.phone)
    client, now = client_address(request), datetime.now(UTC)
    email_key = container.identity.email_key(body.email)
    await run_in_threadpool(container.rate_limits.registration, email_key, client, now)
    async with at_least(container.settings.auth_min_response_s):
        await run_in_threadpool(container.identity.register, new, now)
    return Accepted(
        message="If this user id is free, a verification link is on its way to the e-mail "
        "address. If none arrives, the user id may be taken: choose another."
    )


@router.post(
    "/accounts/verify-email",
    response_model=Done,
    responses=error_responses(400, 401, 403, 404, 409, 413, 422, 429),
    **allow("public"),
)
async def verify_email(
    body: AddressProofIn, request: Request, container: ContainerDep, signed_in: SessionAccountDep
) -> Done:
    """Verify the e-mail address with the token from the registration e-mail and the
    account's password."""
    identity, signin = container.identity, container.signin
    written = await _prove(body, request, signed_in, signin.confirm_email, identity.verify_email)
    token = container.consistency_token("accounts", written)
    return Done(status="verified", consistency_token=token)


async def _prove(
    body: AddressProofIn,
    request: Request,
    signed_in: UUID | None,
    by_password: Callable[[str, str, str, datetime], Written],
    by_session: Callable[[str, UUID, datetime], Written],
) -> Written:
    """Complete a link for the account that proves it asked: by its password, or else by
    a session of it."""
    now = datetime.now(UTC)
    if body.password is not None:
        client = client_address(request)
        return await run_in_threadpool(by_password, body.token, body.password, client, now)
    if signed_in is None:
        raise Unauthenticated(
            "Enter the password of the account this link was sent for.", code="password_required"
        )
    return await run_in_threadpool(by_session, body.token, signed_in, now)


@router.post(
    "/password-resets",
    status_code=202,
    response_model=Accepted,
    responses=error_responses(400, 413, 422, 429),
    **allow("public"),
)
async def request_password_reset(
    body: PasswordResetIn, request: Request, container: ContainerDep
) -> Accepted:
    """Ask for a password-reset link by e-mail."""
    client, now = client_address(request), datetime.now(UTC)
    await run_in_threadpool(_limit_reset, container, body.user_id, client, now)
    async with at_least(container.settings.auth_min_response_s):
        await run_in_threadpool(container.signin.request_reset, body.user_id, now)
    return Accepted(message="If the account exists, a reset link is on its way to its e-mail.")


@router.post(
    "/password-resets/confirm",
    response_model=Done,
    responses=error_responses(400, 413, 422, 503),
    **allow("public"),
)
def reset_password(body: PasswordResetConfirmIn, container: ContainerDep) -> Done:
    """Set a new password with the token from the reset e-mail; every session ends."""
    container.signin.reset_password(body.token, body.new_password, datetime.now(UTC))
    return Done(status="password_changed")


@router.post(
    "/email-changes/cancel",
    response_model=Done,
    responses=error_responses(400, 404, 409, 413, 422),
    **allow("public"),
)
def cancel_email_change(body: LinkTokenIn, container: ContainerDep) -> Done:
    """Cancel an e-mail change with the token the old address was sent (undoing it if it
    was confirmed in the last 7 days): every session ends, and a password-reset link goes
    to the account's address."""
    written = container.identity.cancel_email_change(body.token, datetime.now(UTC))
    token = container.consistency_token("accounts", written)
    return Done(status="email_change_cancelled", consistency_token=token)


@router.post(
    "/email-changes/confirm",
    response_model=Done,
    responses=error_responses(400, 401, 403, 404, 409, 413, 422, 429),
    **allow("public"),
)
async def confirm_email_change(
    body: AddressProofIn, request: Request, container: ContainerDep, signed_in: SessionAccountDep
) -> Done:
    """Confirm a new e-mail address with the token sent to it and the account's password
    (or a bearer session of that account)."""
    identity, signin = container.identity, container.signin
    written = await _prove(
        body, request, signed_in, signin.confirm_email_change, identity.confirm_email_change
    )
    token = container.consistency_token("accounts", written)
    return Done(status="email_changed", consistency_token=token)


def _limit_reset(container: Container, user_id: str, client: str, now: datetime) -> None:
    user_key = container.identity.user_key(normalise_user_id(user_id))
    container.rate_limits.password_reset(user_key, client, now)

"""Two-step sign-in (TOTP): enrol, and for customers, turn it off."""

from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from api.access import PrincipalDep, allow
from api.account_models import MfaConfirmIn, MfaConfirmOut, MfaDisableIn, MfaStartOut
from api.deps import ContainerDep
from api.errors import error_responses
from api.timing import client_address
from domain.errors import Unauthenticated

router = APIRouter(prefix="/v1/me/mfa", tags=["me"])


@router.post(
    "",
    status_code=201,
    response_model=MfaStartOut,
    responses=error_responses(401, 409),
    **allow("self", during_enrolment=True),
)
def start_enrolment(principal: PrincipalDep, container: ContainerDep) -> MfaStartOut:
    """Start two-step sign-in: a new secret for your authenticator app, until confirmed."""
    started = container.signin.second_factor.start(principal.require_account(), datetime.now(UTC))
    return MfaStartOut(secret=started.secret, otpauth_uri=started.otpauth_uri)


@router.post(
    "/confirm",
    response_model=MfaConfirmOut,
    responses=error_responses(401, 409, 413, 422, 429, 503),
    **allow("self", during_enrolment=True),
)
async def confirm_enrolment(
    body: MfaConfirmIn, request: Request, principal: PrincipalDep, container: ContainerDep
) -> MfaConfirmOut:
    """Turn two-step sign-in on with a code from the app (and your password, unless this
    session was made to enrol at sign-in); returns ten recovery codes, once."""
    account_id, now = principal.require_account(), datetime.now(UTC)
    if body.current_password is not None:
        await run_in_threadpool(
            container.signin.reauthenticate,
            account_id,
            body.current_password,
            client_address(request),
            now,
            principal.session_token,
        )
    elif not principal.must_enrol_mfa:
        raise Unauthenticated(
            "Enter your password to turn two-step sign-in on.", code="password_required"
        )
    codes = await run_in_threadpool(
        container.signin.second_factor.confirm, account_id, body.one_time_code, now
    )
    return MfaConfirmOut(recovery_codes=codes)


@router.delete(
    "",
    status_code=204,
    responses=error_responses(401, 403, 409, 413, 422, 429),
    **allow("customer"),
)
async def disable(
    body: MfaDisableIn, request: Request, principal: PrincipalDep, container: ContainerDep
) -> Response:
    """Turn two-step sign-in off (customers only) with your password and a code."""
    account_id, now = principal.require_account(), datetime.now(UTC)
    await run_in_threadpool(
        container.signin.disable_second_factor,
        account_id,
        body.password,
        body.one_time_code,
        client_address(request),
        now,
        principal.session_token,
    )
    return Response(status_code=204)

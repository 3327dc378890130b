"""Signing in and out, and the signed-in person's own sessions."""

import asyncio
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from api.access import PrincipalDep, allow
from api.account_models import SessionInfo, SessionList, SessionOut, SignInIn
from api.deps import ContainerDep
from api.errors import error_responses
from api.timing import at_least, client_address
from infra.postgres.sessions import digest

router = APIRouter(prefix="/v1", tags=["sessions"])


@router.post(
    "/sessions",
    status_code=201,
    response_model=SessionOut,
    responses=error_responses(400, 401, 403, 413, 422, 429, 503),
    **allow("public"),
)
async def sign_in(body: SignInIn, request: Request, container: ContainerDep) -> SessionOut:
    """Sign in with user id, password and, once two-step sign-in is on, one_time_code;
    returns a bearer session token."""
    signin, now = container.signin, datetime.now(UTC)
    async with at_least(container.settings.auth_min_response_s):
        attempt = await run_in_threadpool(
            signin.begin, body.user_id, client_address(request), body.device_token, now
        )
        await asyncio.sleep(attempt.verdict.delay_s)
        signed = await run_in_threadpool(
            signin.finish, attempt, body.password, now, body.one_time_code
        )
    return SessionOut(
        token=signed.session.token,
        expires_at=signed.session.expires_at,
        role=signed.role,
        must_change_password=signed.must_change_password,
        device_token=signed.device_token,
        mfa_enrolment_required=signed.mfa_enrolment_required,
    )


@router.delete(
    "/sessions/current",
    status_code=204,
    responses=error_responses(401),
    **allow("self", during_enrolment=True),
)
def sign_out(principal: PrincipalDep, container: ContainerDep) -> Response:
    """Sign out: this session token stops working at once."""
    if principal.session_token is not None:
        container.signin.logout(principal.session_token, datetime.now(UTC))
    return Response(status_code=204)


@router.get(
    "/me/sessions", response_model=SessionList, responses=error_responses(401), **allow("self")
)
def my_sessions(principal: PrincipalDep, container: ContainerDep) -> SessionList:
    """Your sessions that still work: when each began, was last used and ends."""
    current = digest(principal.session_token) if principal.session_token else None
    rows = container.signin.live_sessions(
        principal.require_account(), principal.kind, datetime.now(UTC)
    )
    return SessionList(
        sessions=[
            SessionInfo(
                id=str(row["id"]),
                created_at=row["created_at"],
                last_seen_at=row["last_seen_at"],
                expires_at=row["expires_at"],
                current=row["token_hash"] == current,
            )
            for row in rows
        ]
    )


@router.delete(
    "/me/sessions",
    status_code=204,
    responses=error_responses(401),
    **allow("self", during_enrolment=True),
)
def sign_out_everywhere(principal: PrincipalDep, container: ContainerDep) -> Response:
    """Sign out everywhere: every session of yours, this one included, and every trusted
    device token stop working at once."""
    container.signin.sign_out_everywhere(principal.require_account(), datetime.now(UTC))
    return Response(status_code=204)

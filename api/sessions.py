"""Signing in and out."""

import asyncio
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from api.access import PrincipalDep, allow
from api.account_models import SessionOut, SignInIn
from api.deps import ContainerDep
from api.errors import error_responses
from api.timing import at_least, client_address

router = APIRouter(prefix="/v1", tags=["sessions"])


@router.post(
    "/sessions",
    status_code=201,
    response_model=SessionOut,
    responses=error_responses(400, 401, 403, 413, 422, 429, 503),
    **allow("public"),
)
async def sign_in(body: SignInIn, request: Request, container: ContainerDep) -> SessionOut:
    """Sign in with user id and password; returns a bearer session token."""
    signin, now = container.signin, datetime.now(UTC)
    async with at_least(container.settings.auth_min_response_s):
        attempt = await run_in_threadpool(
            signin.begin, body.user_id, client_address(request), body.device_token, now
        )
        await asyncio.sleep(attempt.verdict.delay_s)
        signed = await run_in_threadpool(signin.finish, attempt, body.password, now)
    return SessionOut(
        token=signed.session.token,
        expires_at=signed.session.expires_at,
        role=signed.role,
        must_change_password=signed.must_change_password,
        device_token=signed.device_token,
    )


@router.delete(
    "/sessions/current", status_code=204, responses=error_responses(401), **allow("self")
)
def sign_out(principal: PrincipalDep, container: ContainerDep) -> Response:
    """Sign out: this session token stops working at once."""
    if principal.session_token is not None:
        container.signin.logout(principal.session_token, datetime.now(UTC))
    return Response(status_code=204)

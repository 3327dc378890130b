"""Who may call what: every route names one access rule, and this module enforces it.

A route declares its rule with `**allow("rule")`; the rule is also written into the
OpenAPI document as `x-access`, which is how the authorisation-matrix test finds every
route and fails for one that declares nothing. Object-level checks (is this shipment
yours?) live here too, so no router repeats them.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from api.deps import ContainerDep
from api.errors import documented_errors
from commands.container import Container
from domain import mfa, waybill
from domain.accounts import Role
from domain.errors import Forbidden, NotFound, Unauthenticated
from infra.postgres.device_keys import Device, authenticate
from projections import tracking_queries

DEVICE = "device"
ANONYMOUS = "anonymous"
EVERY_ROLE = frozenset(Role)

RULES: dict[str, frozenset[str]] = {
    "public": frozenset({ANONYMOUS, DEVICE, *EVERY_ROLE}),
    "self": EVERY_ROLE,  # any signed-in person, even one who must change their password
    "customer": frozenset({Role.CUSTOMER}),
    "book": frozenset({Role.CUSTOMER, DEVICE}),
    "scan": frozenset({Role.COURIER, Role.HUB_OPERATOR, DEVICE}),
    "exceptions": frozenset({Role.HUB_OPERATOR, Role.ADMIN, Role.AUDITOR}),
    "audit": frozenset({Role.AUDITOR}),
    "admin": frozenset({Role.ADMIN}),
}

_bearer = HTTPBearer(auto_error=False, description="A session token from POST /v1/sessions.")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="A device key.")


@dataclass(frozen=True)
class Principal:
    """Who is calling: a signed-in person (account and role) or a device (key); for
    scans, their hub and, where a courier scans (signed in, or with a key bound to them),
    the courier's account."""

    kind: str  # a Role value, or DEVICE
    account_id: UUID | None = None
    device: Device | None = None
    session_token: str | None = None
    must_change_password: bool = False
    must_enrol_mfa: bool = False  # a role that needs a second factor and has none yet
    hub: str | None = None
    courier: UUID | None = None

    @property
    def actor(self) -> str:
        """How events name who did something: never a person's name. A courier's bound
        key acts as the courier, so custody names the person who holds the parcel."""
        if self.courier is not None:
            return f"account:{self.courier}"
        if self.device is not None:
            return self.device.key_id
        return f"account:{self.account_id}"

    def require_account(self) -> UUID:
        if self.account_id is None:
            raise Forbidden("Only a signed-in person can do this.", code="forbidden")
        return self.account_id


async def current_principal(
    request: Request,
    container: ContainerDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Principal:
    """Who is calling. Async, so that a scanner whose key is remembered costs no worker
    thread; a session or an unremembered key is looked up on one."""
    if bearer is None and "authorization" in request.headers:
        # Credentials we cannot read are refused, not ignored in favour of another header.
        raise Unauthenticated(
            "The Authorization header must be `Bearer <session token>`.", code="invalid_session"
        )
    if bearer is not None:
        session = await run_in_threadpool(
            container.signin.session, bearer.credentials, datetime.now(UTC)
        )
        if session is None:
            raise Unauthenticated(
                "The session token is unknown, expired or revoked; sign in again.",
                code="invalid_session",
            )
        return Principal(
            kind=session.role,
            account_id=session.account_id,
            session_token=bearer.credentials,
            must_change_password=session.must_change_password,
            must_enrol_mfa=mfa.required_for(session.role) and not session.mfa_enabled,
            hub=session.hub_code,
            courier=session.account_id if session.role == Role.COURIER else None,
        )
    if api_key:
        keys = container.device_keys
        device = keys.cached(api_key) or await run_in_threadpool(
            keys.authenticate, api_key, partial(authenticate, container.pool)
        )
        if device is None:
            raise Unauthenticated("The API key is unknown or revoked.", code="invalid_api_key")
        return Principal(kind=DEVICE, device=device, hub=device.hub_code, courier=device.courier)
    raise Unauthenticated(
        "Sign in (Authorization: Bearer …) or send a device key (X-API-Key).",
        code="unauthenticated",
    )


PrincipalDep = Annotated[Principal, Depends(current_principal)]


async def session_account(request: Request, container: ContainerDep) -> UUID | None:
    """The account of a bearer session a public route was sent, if any (a session that
    does not work is refused, never ignored). Read from the header by hand: declared as a
    security scheme, it would read as required in the OpenAPI document."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    session = None
    if scheme.lower() == "bearer" and token:
        session = await run_in_threadpool(container.signin.session, token, datetime.now(UTC))
    if session is None:
        raise Unauthenticated(
            "The session token is unknown, expired or revoked; sign in again.",
            code="invalid_session",
        )
    if session.must_change_password or (mfa.required_for(session.role) and not session.mfa_enabled):
        raise Forbidden(
            "Finish signing in first (a new password, two-step sign-in), or give the password.",
            code="sign_in_unfinished",
        )
    return session.account_id


SessionAccountDep = Annotated[UUID | None, Depends(session_account)]


def _enforcer(rule: str, during_enrolment: bool) -> Any:
    allowed = RULES[rule]

    async def enforce(principal: PrincipalDep) -> None:
        if principal.kind not in allowed:
            raise Forbidden("You may not do this.", code="forbidden")
        if principal.must_enrol_mfa and not during_enrolment:
            raise Forbidden(
                "Set up two-step sign-in first (POST /v1/me/mfa).", code="mfa_enrolment_required"
            )
        if principal.must_change_password and rule != "self":
            raise Forbidden(
                "Change your one-time password first (POST /v1/me/password).",
                code="password_change_required",
            )

    return enforce


def allow(rule: str, *, during_enrolment: bool = False) -> dict[str, Any]:
    """Route keyword arguments enforcing `rule` and recording it in the OpenAPI document,
    with the answers every route can give: 400 and 431 (the HTTP server refuses what it
    cannot parse, and request heads over 16 KiB) and, unless public, 401 and 403.
    `during_enrolment` lets in staff who have yet to set up their second factor (only
    enrolment itself and signing out do)."""
    if rule not in RULES:
        raise ValueError(f"unknown access rule {rule!r}")
    public = rule == "public"
    dependencies = [] if public else [Depends(_enforcer(rule, during_enrolment))]
    statuses = (400, 431) if public else (400, 401, 403, 431)
    return {
        "dependencies": dependencies,
        "openapi_extra": {"x-access": rule, "responses": documented_errors(*statuses)},
    }


def owned_shipment(container: Container, principal: Principal, awb: str) -> dict[str, Any]:
    """The shipment in full if the caller sent or receives it; 404 otherwise — the same
    answer whether the AWB is unknown or someone else's."""
    account_id = principal.require_account()
    number = waybill.normalise(awb)
    with container.pool.connection() as conn:
        found = (
            tracking_queries.owned_shipment(
                conn, account_id, number, partial(container.keyring.unseal_many, conn=conn)
            )
            if waybill.is_valid(number)
            else None
        )
    if found is None:
        raise NotFound("You have no shipment with this waybill.", code="shipment_not_found")
    return found

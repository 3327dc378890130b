"""Staff accounts: made by an operator (`jalur users create`), never by self-registration,
and the first admin, made on the first `jalur up` with a one-time password."""

import secrets
from datetime import datetime
from uuid import UUID

from commands.accounts.identity import Identity, NewAccount
from domain.accounts import STAFF_ROLES, Role
from domain.errors import Conflict, RuleViolation
from infra.postgres import credentials

FIRST_ADMIN_USER_ID = "admin"


def create_staff(
    identity: Identity,
    role: Role,
    user_id: str,
    password: str,
    now: datetime,
    *,
    must_change_password: bool = False,
) -> UUID:
    if role not in STAFF_ROLES:
        raise RuleViolation("Customers register themselves.", code="not_a_staff_role")
    new = NewAccount(user_id, None, password, display_name=user_id, phone=None)
    account_id = identity.register(
        new, now, role=role, active=True, must_change_password=must_change_password
    )
    if account_id is None:
        raise Conflict(f"The user id {user_id!r} is taken.", code="user_id_taken")
    return account_id


def ensure_first_admin(identity: Identity, now: datetime) -> str | None:
    """Create the first admin if there is no admin yet; return its one-time password."""
    with identity.pool.connection() as conn:
        if credentials.any_with_role(conn, Role.ADMIN):
            return None
    password = secrets.token_urlsafe(18)
    try:
        create_staff(
            identity, Role.ADMIN, FIRST_ADMIN_USER_ID, password, now, must_change_password=True
        )
    except Conflict:
        return None  # another process made it first
    return password

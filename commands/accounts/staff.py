"""Staff accounts: made by an operator (`jalur users create`), never by self-registration,
and the first admin, made on the first `jalur up` with a one-time password. A one-time
password expires (settings.one_time_password_hours); an operator issues a new one with
`jalur users reset-password`."""

import secrets
from datetime import datetime
from uuid import UUID

from commands.accounts.identity import Identity, NewAccount
from domain.accounts import HUB_ROLES, STAFF_ROLES, Role, normalise_user_id
from domain.custody import check_hub
from domain.errors import Conflict, NotFound, RuleViolation
from infra.postgres import credentials, device_keys, mfa, sessions

FIRST_ADMIN_USER_ID = "admin"


def create_staff(
    identity: Identity,
    role: Role,
    user_id: str,
    password: str,
    now: datetime,
    *,
    must_change_password: bool = False,
    hub: str | None = None,
) -> UUID:
    """A staff account; couriers and hub operators need their hub (an area code)."""
    if role not in STAFF_ROLES:
        raise RuleViolation("Customers register themselves.", code="not_a_staff_role")
    if (role in HUB_ROLES) != (hub is not None):
        raise RuleViolation(
            "Couriers and hub operators belong to a hub (--hub CGK10000); other staff do not.",
            code="hub_required" if hub is None else "no_hub_role",
        )
    if hub is not None:
        check_hub(hub)
    new = NewAccount(user_id, None, password, display_name=user_id, phone=None)
    account_id = identity.register(
        new, now, role=role, active=True, must_change_password=must_change_password
    )
    if account_id is None:
        raise Conflict(f"The user id {user_id!r} is taken.", code="user_id_taken")
    if hub is not None:
        assign_hub(identity, account_id, hub, now)
    return account_id


def assign_hub(identity: Identity, account_id: UUID, hub: str, now: datetime) -> None:
    """Recorded on the account for audit, kept on its credential for the session look-up."""
    identity.accounts.assign_hub(account_id, check_hub(hub), now)
    with identity.pool.connection() as conn, conn.transaction():
        credentials.set_hub(conn, account_id, hub)
        device_keys.forget_remembered(conn)  # keys bound to them at the old hub stop


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


def issue_one_time_password(
    identity: Identity, user_id: str, now: datetime, *, reset_mfa: bool = False
) -> str:
    """A fresh one-time password for a staff account: every session and trusted device
    ends; with `reset_mfa` its second factor goes too (a lost phone), to be enrolled again
    at the next sign-in."""
    with identity.pool.connection() as conn:
        credential = credentials.by_user_key(conn, identity.user_key(normalise_user_id(user_id)))
    if credential is None:
        raise NotFound(f"No account has the user id {user_id!r}.", code="account_not_found")
    if credential.role not in STAFF_ROLES:
        raise RuleViolation(
            "Customers reset their own password by e-mail.", code="not_a_staff_account"
        )
    password = secrets.token_urlsafe(18)
    with identity.pool.connection() as conn, conn.transaction():
        password_hash = identity.passwords.hash(password)
        credentials.set_one_time_password(conn, credential.account_id, password_hash, now)
        sessions.revoke_all(conn, credential.account_id, now)
        sessions.forget_devices(conn, credential.account_id)
        device_keys.revoke_keys_of(conn, credential.account_id)  # a courier's lost phone
        if reset_mfa:
            mfa.remove(conn, credential.account_id)
    identity.accounts.record_password_change(credential.account_id, now, by_reset=True)
    if reset_mfa:
        identity.accounts.record_mfa_disabled(credential.account_id, now)
    return password

"""Accounts: who may sign in, in which role, and the facts of their life cycle.

Events carry facts only. Personal fields (user id, e-mail, display name, phone) arrive
already sealed under the account's own key; secrets (password hashes, tokens) never
enter an event at all: they live in infra's credential tables.
"""

import re
import unicodedata
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import Conflict, NotFound, RuleViolation


class Role(StrEnum):
    CUSTOMER = "customer"
    COURIER = "courier"
    HUB_OPERATOR = "hub_operator"
    AUDITOR = "auditor"
    ADMIN = "admin"


STAFF_ROLES = frozenset(Role) - {Role.CUSTOMER}
HUB_ROLES = frozenset({Role.COURIER, Role.HUB_OPERATOR})  # they scan, so they belong to a hub
RESET_COOLDOWN = timedelta(minutes=5)
USER_ID_PATTERN = r"^[a-z0-9][a-z0-9._-]{2,31}$"
_USER_ID = re.compile(USER_ID_PATTERN)


def normalise_user_id(user_id: str) -> str:
    """The form user ids are compared in: NFKC, case-folded, trimmed."""
    return unicodedata.normalize("NFKC", user_id).casefold().strip()


def check_user_id(user_id: str) -> str:
    normal = normalise_user_id(user_id)
    if not _USER_ID.match(normal):
        raise RuleViolation(
            "A user id is 3 to 32 letters, digits, dots, dashes or underscores, "
            "starting with a letter or digit.",
            code="invalid_user_id",
        )
    return normal


def normalise_email(email: str) -> str:
    """Addresses are compared case-insensitively (as every real mail system treats them)."""
    return unicodedata.normalize("NFKC", email).strip().casefold()


class Account(Aggregate):
    @event("Registered")
    def __init__(
        self,
        id: UUID,
        role: str,
        user_id: str,
        email: str | None,
        display_name: str,
        phone: str | None,
        privacy_policy_version: int | None,
        registered_at: datetime,
    ) -> None:
        self.role = role
        self.user_id = user_id
        self.email = email
        self.display_name = display_name
        self.phone = phone
        self.privacy_policy_version = privacy_policy_version
        self.registered_at = registered_at
        self.email_verified_at: datetime | None = None
        self.pending_change: tuple[UUID, str] | None = None
        self.erased_at: datetime | None = None
        self.reset_requested_at: datetime | None = None
        self.hub: str | None = None

    def assign_hub(self, hub: str, now: datetime) -> None:
        """Staff who scan belong to a hub (domain/custody.py); the assignment is kept for audit."""
        self._require_live()
        if self.role not in HUB_ROLES:
            raise RuleViolation(
                "Only couriers and hub operators belong to a hub.", code="no_hub_role"
            )
        self._hub_assigned(hub=hub, assigned_at=now)

    @event("HubAssigned")
    def _hub_assigned(self, hub: str, assigned_at: datetime) -> None:
        self.hub = hub

    def _require_live(self) -> None:
        if self.erased_at is not None:
            raise NotFound("No such account.", code="account_not_found")

    def verify_email(self, now: datetime) -> bool:
        """Mark the registered address verified; False if it already was."""
        self._require_live()
        if self.email_verified_at is not None:
            return False
        if self.email is None:
            raise RuleViolation("This account has no e-mail address.", code="no_email")
        self._email_verified(verified_at=now)
        return True

    @event("EmailVerified")
    def _email_verified(self, verified_at: datetime) -> None:
        self.email_verified_at = verified_at

    def request_email_change(self, change_id: UUID, new_email: str, now: datetime) -> None:
        self._require_live()
        self._email_change_requested(change_id=change_id, new_email=new_email, requested_at=now)

    @event("EmailChangeRequested")
    def _email_change_requested(
        self, change_id: UUID, new_email: str, requested_at: datetime
    ) -> None:
        self.pending_change = (change_id, new_email)

    def confirm_email_change(self, change_id: UUID, now: datetime) -> bool:
        """Apply a pending change; False if that change was already applied."""
        self._require_live()
        if self.pending_change is None or self.pending_change[0] != change_id:
            raise Conflict(
                "This e-mail change is no longer pending (a newer one replaced it).",
                code="email_change_superseded",
            )
        self._email_changed(change_id=change_id, email=self.pending_change[1], changed_at=now)
        return True

    @event("EmailChanged")
    def _email_changed(self, change_id: UUID, email: str, changed_at: datetime) -> None:
        self.email = email
        self.email_verified_at = changed_at
        self.pending_change = None

    def record_password_change(self, now: datetime, *, by_reset: bool) -> None:
        self._require_live()
        self._password_changed(changed_at=now, by_reset=by_reset)

    @event("PasswordChanged")
    def _password_changed(self, changed_at: datetime, by_reset: bool) -> None:
        pass

    def request_password_reset(self, now: datetime) -> bool:
        """Ask for a reset link; False (nothing sent) within RESET_COOLDOWN of the last ask,
        so nobody can flood a customer's mailbox with reset e-mails."""
        self._require_live()
        last = self.reset_requested_at
        if last is not None and now - last < RESET_COOLDOWN:
            return False
        self._password_reset_requested(requested_at=now)
        return True

    @event("PasswordResetRequested")
    def _password_reset_requested(self, requested_at: datetime) -> None:
        self.reset_requested_at = requested_at

    def erase(self, now: datetime) -> bool:
        """Record the erasure; False if the account was already erased."""
        if self.erased_at is not None:
            return False
        self._erased(erased_at=now)
        return True

    @event("Erased")
    def _erased(self, erased_at: datetime) -> None:
        self.erased_at = erased_at
        self.pending_change = None

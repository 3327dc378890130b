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
# How long the link in the notice to the old address can undo a confirmed e-mail change.
EMAIL_CHANGE_UNDO = timedelta(days=7)
DISPLAY_NAME_MAX = 100
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


# Anything a mail client or phone might turn into a link: a scheme, "www.", a dotted name
# with a path, or one ending in a top-level domain that link detectors know. (Not every
# dotted word: Indonesian degrees such as "S.Kom" or "A.Md.Kom" are part of many names.)
_DOT = r"[.\u3002\uff0e\uff61]"  # the full stops IDNA treats as dots
_TLDS = (
    "com|net|org|info|biz|id|co|io|me|xyz|app|dev|link|site|online|top|ly|to|gl|sh|cc|tk"
    "|ml|ga|cf|gq|club|shop|store|live|click|icu|vip|my|sg|us|uk|ru|cn|de|page|web|tech"
)
_LINK_LIKE = re.compile(
    rf"[a-z][a-z0-9+.-]*:/|www{_DOT}|[a-z0-9-]{_DOT}[^\s]*/"
    rf"|[a-z0-9-]{_DOT}(?:{_TLDS})(?![a-z0-9-])",
    re.IGNORECASE,
)
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def check_display_name(name: str) -> str:
    """A display name as people see it in e-mails and on staff screens: one line of text,
    nothing that reads as a link. Returns it trimmed."""
    trimmed = name.strip()
    if not 1 <= len(trimmed) <= DISPLAY_NAME_MAX:
        raise RuleViolation(
            f"A display name is 1 to {DISPLAY_NAME_MAX} characters.", code="invalid_display_name"
        )
    if any(unicodedata.category(char) in _INVISIBLE for char in trimmed):
        raise RuleViolation(
            "A display name is one line of text: no line breaks, tabs or invisible characters.",
            code="invalid_display_name",
        )
    if _LINK_LIKE.search(unicodedata.normalize("NFKC", trimmed)):
        raise RuleViolation(
            "A display name cannot hold a web address or anything that reads as a link.",
            code="invalid_display_name",
        )
    return trimmed


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
        # Confirmed changes still within EMAIL_CHANGE_UNDO: (change id, old address, when).
        self.recent_changes: list[tuple[UUID, str | None, datetime]] = []
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
        kept = [c for c in self.recent_changes if changed_at - c[2] <= EMAIL_CHANGE_UNDO]
        self.recent_changes = [*kept, (change_id, self.email, changed_at)]
        self.email = email
        self.email_verified_at = changed_at
        self.pending_change = None

    def drop_pending_email_change(self, reason: str, now: datetime) -> bool:
        """Cancel the pending e-mail change, if any (its link then confirms nothing)."""
        self._require_live()
        if self.pending_change is None:
            return False
        self._email_change_cancelled(
            change_id=self.pending_change[0], reason=reason, cancelled_at=now
        )
        return True

    @event("EmailChangeCancelled")
    def _email_change_cancelled(self, change_id: UUID, reason: str, cancelled_at: datetime) -> None:
        self.pending_change = None

    def undo_email_change(self, change_id: UUID, now: datetime) -> str | None:
        """What the old address's link does: cancel any pending change and, if change
        `change_id` was confirmed less than EMAIL_CHANGE_UNDO ago, put back the address it
        replaced (undoing every later change too). The address put back (sealed), or None."""
        self._require_live()
        self.drop_pending_email_change("cancelled_from_old_address", now)
        old_email = self.email_before(change_id, now)
        if old_email is not None:
            self._email_change_reverted(change_id=change_id, email=old_email, reverted_at=now)
        return old_email

    def email_before(self, change_id: UUID, now: datetime) -> str | None:
        """The address confirmed change `change_id` replaced, while it may be undone."""
        for confirmed_id, old_email, changed_at in self.recent_changes:
            if confirmed_id == change_id and now - changed_at <= EMAIL_CHANGE_UNDO:
                return old_email
        return None

    @event("EmailChangeReverted")
    def _email_change_reverted(self, change_id: UUID, email: str, reverted_at: datetime) -> None:
        self.email = email
        self.email_verified_at = reverted_at  # the link proved this address is theirs
        ids = [c[0] for c in self.recent_changes]
        self.recent_changes = (
            self.recent_changes[: ids.index(change_id)] if change_id in ids else []
        )

    def record_password_change(self, now: datetime, *, by_reset: bool) -> None:
        self._require_live()
        self._password_changed(changed_at=now, by_reset=by_reset)

    @event("PasswordChanged")
    def _password_changed(self, changed_at: datetime, by_reset: bool) -> None:
        pass

    def request_password_reset(self, now: datetime, *, urgent: bool = False) -> bool:
        """Ask for a reset link; False (nothing sent) within RESET_COOLDOWN of the last ask,
        so nobody can flood a customer's mailbox with reset e-mails. `urgent`: the owner
        just cancelled a takeover from their old address, and an earlier ask (perhaps the
        attacker's) must not hold their link back."""
        self._require_live()
        last = self.reset_requested_at
        if not urgent and last is not None and now - last < RESET_COOLDOWN:
            return False
        self._password_reset_requested(requested_at=now)
        return True

    @event("PasswordResetRequested")
    def _password_reset_requested(self, requested_at: datetime) -> None:
        self.reset_requested_at = requested_at

    def record_mfa_enabled(self, now: datetime) -> None:
        self._require_live()
        self._mfa_enabled(enabled_at=now)

    @event("MfaEnabled")
    def _mfa_enabled(self, enabled_at: datetime) -> None:
        pass

    def record_mfa_disabled(self, now: datetime) -> None:
        self._require_live()
        self._mfa_disabled(disabled_at=now)

    @event("MfaDisabled")
    def _mfa_disabled(self, disabled_at: datetime) -> None:
        pass

    def record_recovery_code_used(self, now: datetime) -> None:
        self._require_live()
        self._recovery_code_used(used_at=now)

    @event("RecoveryCodeUsed")
    def _recovery_code_used(self, used_at: datetime) -> None:
        pass

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
        self.recent_changes = []

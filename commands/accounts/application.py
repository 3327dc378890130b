"""The accounts application: account life cycles and the privacy policy's versions.

Personal fields arrive sealed (see domain/sealing.py); nothing here sees a password.
"""

from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application

from commands.writes import Written, retry_on_conflict
from domain.accounts import Account
from domain.errors import NotFound
from domain.privacy import PrivacyPolicy, check_policy_text


class Accounts(Application[UUID]):
    name = "accounts"

    def register(
        self,
        account_id: UUID,
        *,
        role: str,
        user_id: str,
        email: str | None,
        display_name: str,
        phone: str | None,
        privacy_policy_version: int | None,
        now: datetime,
    ) -> Written:
        account = Account(
            id=account_id,
            role=role,
            user_id=user_id,
            email=email,
            display_name=display_name,
            phone=phone,
            privacy_policy_version=privacy_policy_version,
            registered_at=now,
        )
        return Written.of(self.save(account))

    def account(self, account_id: UUID) -> Account:
        try:
            account: Account = self.repository.get(account_id)
        except AggregateNotFoundError:
            raise NotFound("No such account.", code="account_not_found") from None
        return account

    def exists(self, account_id: UUID) -> bool:
        return account_id in self.repository

    def verify_email(self, account_id: UUID, now: datetime) -> Written:
        return self._change(account_id, lambda account: account.verify_email(now))

    def request_email_change(
        self, account_id: UUID, change_id: UUID, new_email: str, now: datetime
    ) -> Written:
        return self._change(
            account_id, lambda account: account.request_email_change(change_id, new_email, now)
        )

    def confirm_email_change(self, account_id: UUID, change_id: UUID, now: datetime) -> Written:
        return self._change(
            account_id, lambda account: account.confirm_email_change(change_id, now)
        )

    def drop_pending_email_change(self, account_id: UUID, reason: str, now: datetime) -> Written:
        return self._change(
            account_id, lambda account: account.drop_pending_email_change(reason, now)
        )

    def undo_email_change(
        self, account_id: UUID, change_id: UUID, now: datetime
    ) -> tuple[str | None, Written]:
        """Cancel a pending change and undo a recent confirmed one; the address put back."""
        restored: list[str | None] = []
        written = self._change(
            account_id,
            lambda account: restored.append(account.undo_email_change(change_id, now)),
        )
        return restored[-1], written

    def record_password_change(self, account_id: UUID, now: datetime, *, by_reset: bool) -> Written:
        return self._change(
            account_id, lambda account: account.record_password_change(now, by_reset=by_reset)
        )

    def request_password_reset(
        self, account_id: UUID, now: datetime, *, urgent: bool = False
    ) -> Written:
        return self._change(
            account_id, lambda account: account.request_password_reset(now, urgent=urgent)
        )

    def record_mfa_enabled(self, account_id: UUID, now: datetime) -> Written:
        return self._change(account_id, lambda account: account.record_mfa_enabled(now))

    def record_mfa_disabled(self, account_id: UUID, now: datetime) -> Written:
        return self._change(account_id, lambda account: account.record_mfa_disabled(now))

    def record_recovery_code_used(self, account_id: UUID, now: datetime) -> Written:
        return self._change(account_id, lambda account: account.record_recovery_code_used(now))

    def assign_hub(self, account_id: UUID, hub: str, now: datetime) -> Written:
        return self._change(account_id, lambda account: account.assign_hub(hub, now))

    def erase(self, account_id: UUID, now: datetime) -> Written:
        return self._change(account_id, lambda account: account.erase(now))

    def _change(self, account_id: UUID, decide: Callable[[Account], object]) -> Written:
        def attempt() -> Written:
            account = self.account(account_id)
            decide(account)
            return Written.of(self.save(account))

        return retry_on_conflict(attempt)

    def policy(self) -> PrivacyPolicy | None:
        try:
            policy: PrivacyPolicy = self.repository.get(PrivacyPolicy.create_id())
        except AggregateNotFoundError:
            return None
        return policy

    def publish_policy(self, text: str, now: datetime) -> Written:
        """Publish a privacy policy version (the first one creates the policy)."""
        check_policy_text(text)

        def attempt() -> Written:
            policy = self.policy()
            if policy is None:
                policy = PrivacyPolicy(id=PrivacyPolicy.create_id(), text=text, published_at=now)
            else:
                policy.publish(text, now)
            return Written.of(self.save(policy))

        return retry_on_conflict(attempt)

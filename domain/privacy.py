"""The privacy policy: every published version is an event, so its history is auditable."""

from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import RuleViolation

POLICY_ID = uuid5(NAMESPACE_URL, "https://jalur.invalid/privacy-policy")
MAX_TEXT_CHARS = 100_000


class PrivacyPolicy(Aggregate):
    @staticmethod
    def create_id() -> UUID:
        return POLICY_ID

    @event("Published")
    def __init__(self, id: UUID, text: str, published_at: datetime) -> None:
        self.text = text
        self.published_at = published_at
        self.policy_version = 1

    def publish(self, text: str, now: datetime) -> bool:
        """Publish a new version; False when the text is unchanged."""
        check_policy_text(text)
        if text == self.text:
            return False
        self._revised(text=text, published_at=now, policy_version=self.policy_version + 1)
        return True

    @event("Revised")
    def _revised(self, text: str, published_at: datetime, policy_version: int) -> None:
        self.text = text
        self.published_at = published_at
        self.policy_version = policy_version


def check_policy_text(text: str) -> None:
    if not text.strip() or len(text) > MAX_TEXT_CHARS:
        raise RuleViolation(
            "A privacy policy is between 1 and 100,000 characters.", code="invalid_policy_text"
        )

"""The first privacy policy: published on start-up when none exists yet.

Several processes may start at once. The policy has one fixed aggregate id, so the event
store's version check lets exactly one of them create version 1; the others see a conflict.
"""

from datetime import datetime
from importlib.resources import files

from eventsourcing.persistence import RecordConflictError

from commands.accounts.application import Accounts
from domain.privacy import PrivacyPolicy, check_policy_text


def default_policy_text() -> str:
    """The policy shipped with the package (domain/data/privacy-policy.md)."""
    return files("domain").joinpath("data/privacy-policy.md").read_text(encoding="utf-8")


def ensure_policy(accounts: Accounts, text: str, now: datetime) -> bool:
    """Publish `text` as version 1 unless a policy exists; True if this call published it."""
    if accounts.policy() is not None:
        return False
    check_policy_text(text)
    try:
        accounts.save(PrivacyPolicy(id=PrivacyPolicy.create_id(), text=text, published_at=now))
    except RecordConflictError:
        return False
    return True

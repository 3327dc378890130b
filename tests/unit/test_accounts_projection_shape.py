"""The accounts projection reads only what the public events really hold, and the
account and privacy policy aggregates it folds keep their rules."""

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from uuid import UUID, uuid4

import pytest
from eventsourcing.domain import DomainEvent
from psycopg import Cursor, sql

from commands.accounts.application import Accounts
from commands.accounts.privacy import default_policy_text, ensure_policy
from domain.accounts import Account
from domain.errors import DomainError
from domain.privacy import PrivacyPolicy
from domain.public import PUBLIC_NAMES, PublicEvent, to_public
from projections import accounts as projection

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


class RecordingCursor:
    """Stands in for a psycopg cursor: keeps each statement with its parameters."""

    def __init__(self) -> None:
        self.executed: list[tuple[str, dict[str, Any]]] = []

    def execute(self, query: str | sql.Composable, params: dict[str, Any]) -> None:
        text = query if isinstance(query, str) else query.as_string()
        self.executed.append((text, params))


def in_memory_accounts() -> Accounts:
    return Accounts(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


def stored_events(app: Accounts) -> list[PublicEvent]:
    return [
        to_public(cast(DomainEvent, app.mapper.to_domain_event(item)))
        for item in app.recorder.select_notifications(start=1, limit=10_000)
    ]


def register(app: Accounts, account_id: UUID | None = None, role: str = "customer") -> UUID:
    account_id = account_id or uuid4()
    app.register(
        account_id,
        role=role,
        user_id="pii1:sealed-user-id",
        email="pii1:sealed-email",
        display_name="pii1:sealed-name",
        phone="pii1:sealed-phone",
        privacy_policy_version=1,
        now=NOW,
    )
    return account_id


def whole_life_cycle() -> list[PublicEvent]:
    """One of every accounts event, made by the real aggregates."""
    app = in_memory_accounts()
    account_id = register(app)
    app.verify_email(account_id, NOW)
    change_id = uuid4()
    app.request_email_change(account_id, change_id, "pii1:sealed-new-email", NOW)
    app.confirm_email_change(account_id, change_id, NOW)
    app.request_email_change(account_id, uuid4(), "pii1:sealed-third-email", NOW)
    app.undo_email_change(account_id, change_id, NOW)  # cancels that one, reverts the first
    app.record_password_change(account_id, NOW, by_reset=False)
    app.request_password_reset(account_id, NOW)
    app.record_mfa_enabled(account_id, NOW)
    app.record_recovery_code_used(account_id, NOW)
    app.record_mfa_disabled(account_id, NOW)
    app.erase(account_id, NOW)
    app.assign_hub(register(app, role="courier"), "CGK10000", NOW)
    app.publish_policy("Version one.", NOW)
    app.publish_policy("Version two.", NOW)
    return stored_events(app)


def applied(event: PublicEvent) -> list[tuple[str, dict[str, Any]]]:
    cursor = RecordingCursor()
    projection.apply(event, cast(Cursor[Any], cursor))
    return cursor.executed


def test_every_accounts_event_type_is_folded_into_the_read_model() -> None:
    accounts_types = {
        name
        for kind, (name, _) in PUBLIC_NAMES.items()
        if issubclass(kind, Account.Event | PrivacyPolicy.Event)
    }
    events = whole_life_cycle()

    assert {e.type for e in events} == accounts_types
    assert all(len(applied(event)) == 1 for event in events)


@pytest.mark.parametrize("event", whole_life_cycle(), ids=lambda e: e.type)
def test_projection_reads_only_fields_the_public_event_holds(event: PublicEvent) -> None:
    ((statement, params),) = applied(event)

    missing = set(PLACEHOLDER.findall(statement)) - set(params)

    assert missing == set()


def test_registration_event_carries_every_profile_field() -> None:
    registered = whole_life_cycle()[0]

    assert set(registered.data) == {
        "role",
        "user_id",
        "email",
        "display_name",
        "phone",
        "privacy_policy_version",
        "registered_at",
    }


def test_erasure_nulls_every_sealed_column() -> None:
    erased = next(e for e in whole_life_cycle() if e.type == "AccountErased")
    ((statement, _),) = applied(erased)

    for column in ("user_id", "email", "display_name", "phone", "pending_email"):
        assert f"{column} = NULL" in statement


def test_first_policy_version_is_one_and_revisions_carry_their_number() -> None:
    policies = [e for e in whole_life_cycle() if e.type.startswith("PrivacyPolicy")]

    versions = [params["policy_version"] for e in policies for _, params in applied(e)]

    assert versions == [1, 2]


def test_verifying_an_email_twice_stores_one_event() -> None:
    app = in_memory_accounts()
    account_id = register(app)

    app.verify_email(account_id, NOW)
    app.verify_email(account_id, NOW + timedelta(minutes=1))

    assert [e.type for e in stored_events(app)].count("AccountEmailVerified") == 1


def test_confirming_a_superseded_email_change_is_refused() -> None:
    app = in_memory_accounts()
    account_id = register(app)
    first, second = uuid4(), uuid4()
    app.request_email_change(account_id, first, "pii1:first", NOW)
    app.request_email_change(account_id, second, "pii1:second", NOW)

    with pytest.raises(DomainError) as refused:
        app.confirm_email_change(account_id, first, NOW)

    assert refused.value.code == "email_change_superseded"
    assert app.account(account_id).email == "pii1:sealed-email"


ACCOUNT_COMMANDS: dict[str, Callable[[Accounts, UUID], object]] = {
    "verify_email": lambda app, a: app.verify_email(a, NOW),
    "request_email_change": lambda app, a: app.request_email_change(a, uuid4(), "pii1:x", NOW),
    "record_password_change": lambda app, a: app.record_password_change(a, NOW, by_reset=True),
    "request_password_reset": lambda app, a: app.request_password_reset(a, NOW),
}


@pytest.mark.parametrize("command", ACCOUNT_COMMANDS.values(), ids=ACCOUNT_COMMANDS.keys())
def test_erased_account_refuses_commands_as_not_found(
    command: Callable[[Accounts, UUID], object],
) -> None:
    app = in_memory_accounts()
    account_id = register(app)
    app.erase(account_id, NOW)
    before = stored_events(app)

    with pytest.raises(DomainError) as refused:
        command(app, account_id)

    assert refused.value.code == "account_not_found"
    assert stored_events(app) == before


def test_erasing_twice_stores_one_event() -> None:
    app = in_memory_accounts()
    account_id = register(app)

    app.erase(account_id, NOW)
    app.erase(account_id, NOW)

    assert [e.type for e in stored_events(app)].count("AccountErased") == 1


def test_policy_versions_increment_with_each_new_text() -> None:
    app = in_memory_accounts()

    for n in range(1, 4):
        app.publish_policy(f"Version {n}.", NOW + timedelta(days=n))

    policy = app.policy()
    assert policy is not None
    assert (policy.policy_version, policy.text) == (3, "Version 3.")


def test_publishing_unchanged_policy_text_stores_nothing() -> None:
    app = in_memory_accounts()
    app.publish_policy("The same text.", NOW)
    before = stored_events(app)

    app.publish_policy("The same text.", NOW + timedelta(days=1))

    assert stored_events(app) == before


def test_ensure_policy_publishes_the_first_version_only() -> None:
    app = in_memory_accounts()

    first = ensure_policy(app, "First text.", NOW)
    second = ensure_policy(app, "Other text.", NOW)

    policy = app.policy()
    assert (first, second) == (True, False)
    assert policy is not None
    assert (policy.policy_version, policy.text) == (1, "First text.")


def test_shipped_policy_text_is_a_publishable_markdown_document() -> None:
    text = default_policy_text()

    assert text.startswith("# Jalur privacy policy")
    assert ensure_policy(in_memory_accounts(), text, NOW)

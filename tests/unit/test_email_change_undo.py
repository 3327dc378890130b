"""The old address's link: it cancels a pending e-mail change and, for a week, undoes a
confirmed one, even one the attacker followed with another change. Given prior events,
when the link is used, then these events."""

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from commands.accounts.application import Accounts
from domain.accounts import Account

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
OLD, NEW, NEWER = "pii1:old-address", "pii1:attacker-address", "pii1:attacker-second"


def accounts() -> Accounts:
    return Accounts(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


def given_account(app: Accounts) -> UUID:
    account_id = uuid4()
    app.register(
        account_id,
        role="customer",
        user_id="pii1:user",
        email=OLD,
        display_name="pii1:name",
        phone=None,
        privacy_policy_version=1,
        now=NOW,
    )
    app.verify_email(account_id, NOW)
    return account_id


def changed(app: Accounts, account_id: UUID, email: str, *, confirm: bool) -> UUID:
    change_id = uuid4()
    app.request_email_change(account_id, change_id, email, NOW)
    if confirm:
        app.confirm_email_change(account_id, change_id, NOW)
    return change_id


def new_event_names(app: Accounts, account_id: UUID, since: int) -> list[str]:
    events = list(app.events.get(account_id, gt=since))
    return [type(event).__name__ for event in events]


def test_a_pending_change_is_cancelled_and_the_address_stays() -> None:
    app = accounts()
    account_id = given_account(app)
    change_id = changed(app, account_id, NEW, confirm=False)
    version = app.account(account_id).version

    restored, _ = app.undo_email_change(account_id, change_id, NOW + timedelta(hours=1))

    account = app.account(account_id)
    assert (restored, account.email, account.pending_change) == (None, OLD, None)
    assert new_event_names(app, account_id, version) == ["EmailChangeCancelled"]


def test_a_confirmed_change_is_undone_within_a_week() -> None:
    app = accounts()
    account_id = given_account(app)
    change_id = changed(app, account_id, NEW, confirm=True)

    restored, _ = app.undo_email_change(account_id, change_id, NOW + timedelta(days=6))

    assert restored == OLD
    assert app.account(account_id).email == OLD


def test_a_confirmed_change_stays_after_a_week() -> None:
    app = accounts()
    account_id = given_account(app)
    change_id = changed(app, account_id, NEW, confirm=True)

    restored, _ = app.undo_email_change(account_id, change_id, NOW + timedelta(days=7, hours=1))

    assert (restored, app.account(account_id).email) == (None, NEW)


def test_undoing_the_first_change_undoes_the_attackers_later_ones_too() -> None:
    app = accounts()
    account_id = given_account(app)
    first = changed(app, account_id, NEW, confirm=True)
    changed(app, account_id, NEWER, confirm=True)
    changed(app, account_id, "pii1:third", confirm=False)

    restored, _ = app.undo_email_change(account_id, first, NOW + timedelta(hours=2))

    account = app.account(account_id)
    assert (restored, account.email, account.pending_change) == (OLD, OLD, None)
    again, _ = app.undo_email_change(account_id, first, NOW + timedelta(hours=3))
    assert again is None, "once undone, there is nothing left to undo"


def test_dropping_a_pending_change_records_why() -> None:
    app = accounts()
    account_id = given_account(app)
    changed(app, account_id, NEW, confirm=False)

    app.drop_pending_email_change(account_id, "password_reset", NOW)

    [event] = [e for e in app.events.get(account_id) if type(e).__name__ == "EmailChangeCancelled"]
    assert event.reason == "password_reset"
    assert app.account(account_id).pending_change is None


def test_an_account_replays_its_undone_change_from_the_events() -> None:
    app = accounts()
    account_id = given_account(app)
    change_id = changed(app, account_id, NEW, confirm=True)
    app.undo_email_change(account_id, change_id, NOW)

    replayed: Account = app.repository.get(account_id)

    assert (replayed.email, replayed.recent_changes) == (OLD, [])

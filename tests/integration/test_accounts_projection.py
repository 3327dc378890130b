"""The accounts read model over real PostgreSQL and a real broker: sealed profiles,
erasure, the privacy policy's versions, and agreement with a replay of the events."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from uuid import UUID, uuid4

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api import privacy
from api.errors import install_error_handlers
from commands.accounts.privacy import default_policy_text, ensure_policy
from commands.container import Applications
from consumers.rebuild import rebuild
from consumers.registry import projection
from consumers.runner import ProjectionRunner
from consumers.verify import verify
from domain.privacy import POLICY_ID
from infra.messaging.relay import Relay
from infra.runtime.bootstrap import bootstrap, build_applications
from infra.settings import Settings
from projections.accounts_queries import current_policy, profile
from tests.integration.workers import running
from tests.support import T0, run_at_once, wait_until

ACCOUNTS = projection("accounts")
PROFILE = {
    "user_id": "budi.santoso",
    "email": "budi@example.id",
    "display_name": "Budi Santoso",
    "phone": "081234567890",
}


@pytest.fixture
def apps(settings: Settings) -> Iterator[Applications]:
    built = build_applications(settings)
    yield built
    built.close()


@contextmanager
def projecting(apps: Applications, settings: Settings) -> Iterator[ProjectionRunner]:
    """The accounts relay and a projection runner, both running in threads."""
    runner = ProjectionRunner(ACCOUNTS, settings)
    with running(Relay(apps.accounts, settings)), running(runner):
        yield runner


def caught_up(apps: Applications, runner: ProjectionRunner) -> bool:
    """Every stored event applied, each exactly once (counted: failed inserts may leave
    notification id gaps). Waits while fewer are applied; more than stored is a failure."""
    stored = len(apps.accounts.recorder.select_notifications(start=1, limit=100_000))
    wait_until(lambda: runner.applied >= stored, timeout=60)
    return runner.applied == stored


def register(apps: Applications) -> UUID:
    account_id = uuid4()
    sealed = apps.keyring.seal(account_id, PROFILE)
    apps.accounts.register(
        account_id,
        role="customer",
        user_id=sealed["user_id"] or "",
        email=sealed["email"],
        display_name=sealed["display_name"] or "",
        phone=sealed["phone"],
        privacy_policy_version=1,
        now=T0,
    )
    return account_id


def read_profile(database_url: str, account_id: UUID) -> dict[str, object] | None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        return profile(conn, account_id)


def test_profile_row_holds_sealed_fields_that_unseal_to_what_was_registered(
    apps: Applications, settings: Settings, database_url: str
) -> None:
    account_id = register(apps)
    apps.accounts.verify_email(account_id, T0)
    change_id = uuid4()
    new_email = apps.keyring.seal(account_id, {"email": "budi.baru@example.id"})["email"]
    apps.accounts.request_email_change(account_id, change_id, new_email or "", T0)

    with projecting(apps, settings) as runner:
        assert caught_up(apps, runner)

    row = read_profile(database_url, account_id)
    assert row is not None
    opened = {field: apps.keyring.unseal(str(row[field])) for field in PROFILE}
    assert opened == PROFILE
    assert all(str(row[field]).startswith("pii1:") for field in PROFILE)
    assert apps.keyring.unseal(str(row["pending_email"])) == "budi.baru@example.id"
    assert (row["role"], row["email_verified_at"], row["pending_change_id"]) == (
        "customer",
        T0,
        change_id,
    )
    assert row["aggregate_version"] == 3


def test_erasure_nulls_the_sealed_columns_and_hides_the_profile(
    apps: Applications, settings: Settings, database_url: str
) -> None:
    account_id = register(apps)
    apps.accounts.request_email_change(account_id, uuid4(), "pii1:pending", T0)

    with projecting(apps, settings) as runner:
        assert caught_up(apps, runner)
        assert read_profile(database_url, account_id) is not None
        apps.keyring.destroy(account_id)
        apps.accounts.erase(account_id, T0)
        assert caught_up(apps, runner)

    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            """SELECT erased_at, user_id, email, display_name, phone, pending_email,
                      pending_change_id
               FROM accounts_accounts WHERE account_id = %s""",
            (account_id,),
        ).fetchone()
    assert row == (T0, None, None, None, None, None, None)
    assert read_profile(database_url, account_id) is None


def test_ensure_policy_twice_publishes_one_version_served_by_the_api(
    apps: Applications, settings: Settings, database_url: str
) -> None:
    text = default_policy_text()
    with policy_client(settings) as client:
        before = client.get("/v1/privacy-policy")
        published = [ensure_policy(apps.accounts, text, T0) for _ in range(2)]
        with projecting(apps, settings) as runner:
            assert caught_up(apps, runner)
        after = client.get("/v1/privacy-policy")

    assert published == [True, False]
    assert before.status_code == 404
    assert before.json()["error"]["code"] == "privacy_policy_not_published"
    assert after.status_code == 200
    assert after.json()["version"] == 1
    assert after.json()["text"] == text


def test_ensure_policy_from_four_processes_at_once_publishes_one_version(
    apps: Applications, settings: Settings, database_url: str
) -> None:
    others = [build_applications(settings) for _ in range(4)]  # one per "process"
    try:
        published = run_at_once(
            lambda own: ensure_policy(own.accounts, f"Policy text {id(own)}.", T0), others
        )
    finally:
        for own in others:
            own.close()

    assert sorted(published) == [False, False, False, True]
    assert len(apps.accounts.recorder.select_events(POLICY_ID)) == 1
    with projecting(apps, settings) as runner:
        assert caught_up(apps, runner)
    with psycopg.connect(database_url, autocommit=True) as conn:
        policy = current_policy(conn)
        versions = conn.execute("SELECT count(*) FROM accounts_privacy_policy_versions").fetchone()
    assert policy is not None
    assert policy["policy_version"] == 1
    assert versions == (1,)


def test_read_model_equals_a_replay_of_the_event_store(
    apps: Applications, settings: Settings, database_url: str
) -> None:
    ensure_policy(apps.accounts, "First version.", T0)
    apps.accounts.publish_policy("Second version.", T0)
    kept, erased = register(apps), register(apps)
    change_id = uuid4()
    apps.accounts.request_email_change(kept, change_id, "pii1:new", T0)
    apps.accounts.confirm_email_change(kept, change_id, T0)
    apps.accounts.record_password_change(kept, T0, by_reset=False)
    apps.accounts.request_password_reset(kept, T0)
    apps.accounts.erase(erased, T0)

    with projecting(apps, settings) as runner:
        assert caught_up(apps, runner)

    with psycopg.connect(database_url, autocommit=True) as conn:
        assert verify(conn, ACCOUNTS, apps.all) == []
        policy = current_policy(conn)
    assert policy is not None
    assert (policy["policy_version"], policy["text"]) == (2, "Second version.")


def test_rebuild_switches_to_a_new_generation_equal_to_a_replay(
    apps: Applications, settings: Settings, database_url: str
) -> None:
    ensure_policy(apps.accounts, "First version.", T0)
    account_id = register(apps)
    apps.accounts.verify_email(account_id, T0)
    with projecting(apps, settings) as runner:
        assert caught_up(apps, runner)

    new_generation = rebuild(ACCOUNTS, settings, threading.Event())

    assert new_generation == 2
    assert read_profile(database_url, account_id) is not None
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert verify(conn, ACCOUNTS, apps.all) == []


@contextmanager
def policy_client(settings: Settings) -> Iterator[TestClient]:
    container = bootstrap(settings)
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(privacy.router)
    app.state.container = container
    try:
        with TestClient(app) as client:
            yield client
    finally:
        container.close()

"""Rate limits on registration, booking and password-reset requests, in-process against
the real database: per account, per client address, shared by two API processes (two
containers, two pools), and refusals that change nothing."""

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from api.app import create_app
from commands.accounts.identity import NewAccount
from commands.container import Container
from infra.postgres.device_keys import create_key
from infra.runtime.bootstrap import bootstrap
from infra.settings import Settings
from tests.integration.client_address import FromHeader, at
from tests.integration.test_accounts_api import registration
from tests.integration.test_api import booking_body
from tests.support import run_at_once

NAT = "198.51.100.20"  # a carrier NAT: many people, one address
OTHER = "203.0.113.77"


@dataclass
class Api:
    client: TestClient
    container: Container

    def accounts_events(self) -> int:
        return self.container.accounts.recorder.max_notification_id() or 0

    def shipments_events(self) -> int:
        return self.container.shipments.recorder.max_notification_id() or 0

    def device(self, label: str) -> dict[str, str]:
        with psycopg.connect(self.container.settings.require_database_url()) as conn:
            _, secret = create_key(conn, "CGK10000", label)
        return {"X-API-Key": secret}


@contextmanager
def running(settings: Settings, **changes: Any) -> Iterator[Api]:
    container = bootstrap(settings.model_copy(update={"auth_min_response_s": 0, **changes}))
    try:
        with TestClient(FromHeader(create_app(container))) as client:
            yield Api(client, container)
    finally:
        container.close()


def claimed(api: Api) -> int:
    with api.container.pool.connection() as conn:
        row = conn.execute("SELECT count(*) FROM credentials").fetchone()
    assert row is not None
    return int(row[0])


def test_registrations_from_one_address_are_limited_exactly_across_two_api_processes(
    settings: Settings,
) -> None:
    with ExitStack() as stack:
        apis = [stack.enter_context(running(settings, limit_registrations_per_address_hour=5))]
        apis.append(stack.enter_context(running(settings, limit_registrations_per_address_hour=5)))

        answers = run_at_once(
            lambda n: apis[n % 2].client.post("/v1/accounts", json=registration(), headers=at(NAT)),
            range(12),
        )

        statuses = sorted(a.status_code for a in answers)
        assert statuses == [202] * 5 + [429] * 7
        refused = [a for a in answers if a.status_code == 429]
        assert {a.json()["error"]["code"] for a in refused} == {"rate_limited"}
        # within the hour (a second more when another request opened the window a moment later)
        assert all(0 < int(a.headers["Retry-After"]) <= 3601 for a in refused)
        assert claimed(apis[0]) == 5, "a refused registration claims no user id"
        elsewhere = apis[1].client.post("/v1/accounts", json=registration(), headers=at(OTHER))
        assert elsewhere.status_code == 202


def test_registrations_naming_one_email_address_are_limited_from_any_address(
    settings: Settings,
) -> None:
    with running(settings, limit_registrations_per_email_hour=3) as api:
        victim = registration()["email"]
        answers = [
            api.client.post(
                "/v1/accounts", json=registration() | {"email": victim}, headers=at(f"192.0.2.{n}")
            ).status_code
            for n in range(4)
        ]

        assert answers == [202, 202, 202, 429]
        other = api.client.post("/v1/accounts", json=registration(), headers=at("192.0.2.3"))
        assert other.status_code == 202


def test_bookings_are_limited_per_device_key_and_per_address(settings: Settings) -> None:
    limits = {"limit_bookings_per_account_minute": 3, "limit_bookings_per_address_minute": 5}
    with running(settings, **limits) as api:
        counter, kiosk = api.device("counter"), api.device("kiosk")

        def book(device: dict[str, str], address: str = NAT) -> int:
            answer = api.client.post(
                "/v1/shipments", json=booking_body(), headers=at(address, device)
            )
            return answer.status_code

        assert [book(counter) for _ in range(4)] == [201, 201, 201, 429]
        assert [book(kiosk) for _ in range(2)] == [201, 201]
        stored = api.shipments_events()
        assert book(kiosk) == 429, "the address's five are used"
        assert api.shipments_events() == stored, "a refused booking stores nothing"
        assert book(kiosk, OTHER) == 201


def test_reset_requests_are_limited_per_account_and_per_address(settings: Settings) -> None:
    limits = {
        "limit_password_resets_per_account_hour": 2,
        "limit_password_resets_per_address_hour": 4,
    }
    with running(settings, **limits) as api:
        body = registration()
        new = NewAccount(body["user_id"], body["email"], body["password"], "Sari", None)
        api.container.identity.register(new, datetime.now(UTC), active=True)

        def ask(user_id: str, address: str = NAT) -> int:
            answer = api.client.post(
                "/v1/password-resets", json={"user_id": user_id}, headers=at(address)
            )
            return answer.status_code

        assert [ask(body["user_id"]) for _ in range(2)] == [202, 202]
        recorded = api.accounts_events()
        assert ask(body["user_id"]) == 429
        assert api.accounts_events() == recorded, "a refused request sends no e-mail"
        assert [ask("someone-else"), ask("a-third"), ask("a-fourth")] == [202, 202, 429]
        assert ask("a-fourth", OTHER) == 202


def test_concurrent_hashes_beyond_the_bound_answer_503_with_retry_after(settings: Settings) -> None:
    with running(settings, argon2_concurrency=1, argon2_wait_max_s=0) as api:
        answers = run_at_once(
            lambda n: api.client.post(
                "/v1/accounts", json=registration(), headers=at(f"192.0.2.{n}")
            ),
            range(8),
        )

    busy = [a for a in answers if a.status_code == 503]
    assert {a.status_code for a in answers} == {202, 503}
    assert {a.json()["error"]["code"] for a in busy} == {"server_busy"}
    assert {a.headers["Retry-After"] for a in busy} == {"1"}


def test_email_changes_are_limited_per_account_and_per_address_named(settings: Settings) -> None:
    """Each change mails a link: a stranger's mailbox gets at most the address's quota,
    whoever asks, and one account cannot mail the world."""
    limits = {"limit_registrations_per_email_hour": 2, "limit_password_resets_per_account_hour": 3}
    with running(settings, **limits) as api:
        people = []
        for _ in range(2):
            body = registration()
            new = NewAccount(body["user_id"], body["email"], body["password"], "Sari", None)
            api.container.identity.register(new, datetime.now(UTC), active=True)
            signed = api.client.post(
                "/v1/sessions", json={"user_id": body["user_id"], "password": body["password"]}
            )
            assert signed.status_code == 201, signed.text
            people.append((body, {"Authorization": f"Bearer {signed.json()['token']}"}))
        stranger = registration()["email"]

        def change(who: int, address: str) -> int:
            body, headers = people[who]
            asked = {"current_password": body["password"], "new_email": address}
            return api.client.post("/v1/me/email", json=asked, headers=headers).status_code

        assert [change(0, stranger), change(1, stranger), change(1, stranger)] == [202, 202, 429]
        recorded = api.accounts_events()
        assert [change(0, registration()["email"]) for _ in range(3)] == [202, 202, 429]
        assert api.accounts_events() == recorded + 2, "a refused change records nothing"

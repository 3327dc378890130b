"""Lock-out that cannot be turned against the customer (OWASP: lock per account and
device, not per address alone), in-process against the real database: re-authentication
counts on the session's own device, and a stuffer behind a carrier NAT locks only
untrusted attempts from it."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest

from commands.accounts.identity import NewAccount
from domain.login_policy import ACCOUNT_LOCK_AT, CLIENT_LOCK_AT
from infra.settings import Settings
from tests.integration.client_address import at
from tests.integration.test_rate_limits import Api, running

NAT = "198.51.100.40"  # the customer and a credential stuffer behind one carrier NAT
ATTACKER = "203.0.113.99"
PASSWORD = "nasi goreng kambing 77"


@dataclass
class Customer:
    user_id: str
    session: dict[str, str]
    device_token: str


@pytest.fixture
def api(settings: Settings) -> Iterator[Api]:
    # E-mail changes are rate limited too (a few an hour); these tests count passwords.
    limits = {
        "limit_password_resets_per_account_hour": 100,
        "limit_registrations_per_email_hour": 100,
    }
    with running(settings, **limits) as running_api:
        yield running_api


def sign_in(api: Api, user_id: str, password: str, address: str, **extra: Any) -> Any:
    body = {"user_id": user_id, "password": password} | extra
    return api.client.post("/v1/sessions", json=body, headers=at(address))


def customer(api: Api) -> Customer:
    user_id = f"sari-{uuid4().hex[:8]}"
    new = NewAccount(user_id, f"{user_id}@example.id", PASSWORD, "Sari Dewi", None)
    api.container.identity.register(new, datetime.now(UTC), active=True)
    answer = sign_in(api, user_id, PASSWORD, NAT)
    assert answer.status_code == 201, answer.text
    session = at(NAT, {"Authorization": f"Bearer {answer.json()['token']}"})
    return Customer(user_id, session, answer.json()["device_token"])


def wrong_untrusted_sign_ins(api: Api, user_id: str, address: str, times: int) -> None:
    """What each wrong sign-in without a device token counts, minus its waiting."""
    user_key = api.container.identity.user_key(user_id)
    for _ in range(times):
        api.container.signin.throttle.begin(
            account_key=user_key, client=address, device_key=None, now=datetime.now(UTC)
        )


def test_filling_the_untrusted_bucket_never_blocks_a_signed_in_customers_changes(
    api: Api,
) -> None:
    sari = customer(api)
    wrong_untrusted_sign_ins(api, sari.user_id, ATTACKER, ACCOUNT_LOCK_AT)
    assert sign_in(api, sari.user_id, PASSWORD, ATTACKER).status_code == 429

    change = {"current_password": PASSWORD, "new_email": f"new-{sari.user_id}@example.id"}
    email = api.client.post("/v1/me/email", json=change, headers=sari.session)
    assert email.status_code == 202, email.text
    new_password = {"current_password": PASSWORD, "new_password": "gado gado jakarta 99"}
    password = api.client.post("/v1/me/password", json=new_password, headers=sari.session)
    assert password.status_code == 200, password.text


def test_wrong_passwords_in_a_session_lock_only_that_sessions_device(api: Api) -> None:
    sari = customer(api)
    change = {"current_password": "not the password at all", "new_email": "x@example.id"}
    answers = [
        api.client.post("/v1/me/email", json=change, headers=sari.session).status_code
        for _ in range(ACCOUNT_LOCK_AT + 1)
    ]

    assert answers == [401] * ACCOUNT_LOCK_AT + [429]
    assert sign_in(api, sari.user_id, PASSWORD, NAT).status_code == 201, "untrusted still works"


def test_a_stuffer_behind_the_customers_nat_locks_only_untrusted_attempts(api: Api) -> None:
    sari = customer(api)
    for n in range(CLIENT_LOCK_AT):
        wrong_untrusted_sign_ins(api, f"victim-{n}-{uuid4().hex[:6]}", NAT, 1)
    assert sign_in(api, sari.user_id, PASSWORD, NAT).status_code == 429

    trusted = sign_in(api, sari.user_id, PASSWORD, NAT, device_token=sari.device_token)
    assert trusted.status_code == 201, trusted.text
    erase = api.client.request(
        "DELETE", "/v1/me", json={"password": PASSWORD}, headers=sari.session
    )
    assert erase.status_code == 204, erase.text

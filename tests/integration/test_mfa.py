"""Two-step sign-in, sessions and one-time passwords through the HTTP API, in-process
against the real database. Codes come from pyotp in the test (tests/authenticator.py);
times the test must not sleep through are passed as `now` to the sign-in use case."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from commands.accounts import staff as staff_accounts
from commands.accounts.staff import create_staff, ensure_first_admin
from domain.accounts import Role
from domain.errors import Forbidden, TooManyAttempts, Unauthenticated
from infra.postgres.device_keys import create_key
from infra.runtime.embedded import EmbeddedBroker
from tests.authenticator import Authenticator, enrol
from tests.integration.conftest import make_settings
from tests.integration.test_accounts_api import Api, bearer, running_api, sign_in, verified

PASSWORD = "teh manis hangat 2026"
CLIENT = "203.0.113.7"


@pytest.fixture(scope="module")
def api(pg_admin_url: str, broker: EmbeddedBroker) -> Iterator[Api]:
    name = f"jalur_test_{uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    settings = make_settings(make_conninfo(pg_admin_url, dbname=name), broker.bootstrap)
    with running_api(settings, floor_s=0) as running:
        yield running
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def new_staff(api: Api, role: Role = Role.COURIER) -> str:
    user_id = f"{role.value.replace('_', '-')}-{uuid4().hex[:6]}"
    hub = "CGK10000" if role in {Role.COURIER, Role.HUB_OPERATOR} else None
    create_staff(api.container.identity, role, user_id, PASSWORD, datetime.now(UTC), hub=hub)
    return user_id


def enrolled_staff(api: Api, role: Role = Role.COURIER) -> tuple[str, Authenticator]:
    user_id = new_staff(api, role)
    return user_id, enrol(api.client, bearer(sign_in(api, user_id, PASSWORD)))


def error_code(answer: Any) -> str:
    return str(answer.json()["error"]["code"])


def test_staff_without_a_second_factor_may_only_enrol(api: Api) -> None:
    user_id = new_staff(api, Role.AUDITOR)
    signed = sign_in(api, user_id, PASSWORD)
    headers = bearer(signed)
    assert signed.json()["mfa_enrolment_required"] is True
    refused = api.client.get("/v1/me", headers=headers)
    assert refused.status_code == 403
    assert error_code(refused) == "mfa_enrolment_required"
    assert api.client.get("/v1/audit/totals", headers=headers).status_code == 403
    authenticator = enrol(api.client, headers)
    assert len(set(authenticator.recovery_codes)) == 10
    assert api.client.get("/v1/me", headers=headers).status_code == 200


def test_a_customer_is_offered_the_second_factor_but_not_made_to_enrol(api: Api) -> None:
    body = verified(api)
    signed = sign_in(api, body["user_id"], body["password"])
    assert signed.json()["mfa_enrolment_required"] is False
    assert api.client.get("/v1/me", headers=bearer(signed)).status_code == 200


def test_an_enrolled_account_signs_in_only_with_a_fresh_code(api: Api) -> None:
    user_id, authenticator = enrolled_staff(api)
    without = sign_in(api, user_id, PASSWORD)
    assert without.status_code == 401
    assert error_code(without) == "one_time_code_required"
    code = authenticator.code()
    signed = sign_in(api, user_id, PASSWORD, one_time_code=code)
    assert signed.status_code == 201, signed.text
    assert signed.json()["mfa_enrolment_required"] is False
    assert api.client.get("/v1/me", headers=bearer(signed)).status_code == 200
    replayed = sign_in(api, user_id, PASSWORD, one_time_code=code)
    assert replayed.status_code == 401, "a code works once, even inside its 30 seconds"
    assert error_code(replayed) == "invalid_one_time_code"


def test_the_enrolment_code_cannot_be_replayed_at_sign_in(api: Api) -> None:
    user_id = new_staff(api)
    headers = bearer(sign_in(api, user_id, PASSWORD))
    started = api.client.post("/v1/me/mfa", headers=headers).json()
    code = Authenticator(started["secret"]).code()
    confirmed = api.client.post("/v1/me/mfa/confirm", json={"one_time_code": code}, headers=headers)
    assert confirmed.status_code == 200
    assert sign_in(api, user_id, PASSWORD, one_time_code=code).status_code == 401


def test_guessing_codes_is_throttled_like_guessing_passwords(api: Api) -> None:
    user_id, authenticator = enrolled_staff(api)
    signin, now = api.container.signin, datetime.now(UTC)
    for guess in range(10):
        attempt = signin.begin(user_id, CLIENT, None, now)
        with pytest.raises(Unauthenticated):
            signin.finish(attempt, PASSWORD, now, f"{guess:06d}")
    with pytest.raises(TooManyAttempts):
        signin.begin(user_id, CLIENT, None, now)
    locked = sign_in(api, user_id, PASSWORD, one_time_code=authenticator.code())
    assert locked.status_code == 429, "even the right code waits out the lock"
    assert int(locked.headers["Retry-After"]) > 0


def test_a_recovery_code_signs_in_once(api: Api) -> None:
    user_id, authenticator = enrolled_staff(api)
    code = authenticator.recovery_codes[3]
    first = sign_in(api, user_id, PASSWORD, one_time_code=code.upper().replace("-", " "))
    assert first.status_code == 201, first.text
    again = sign_in(api, user_id, PASSWORD, one_time_code=code)
    assert again.status_code == 401
    assert error_code(again) == "invalid_one_time_code"
    other = sign_in(api, user_id, PASSWORD, one_time_code=authenticator.recovery_codes[4])
    assert other.status_code == 201


def test_a_recovery_code_of_another_account_does_not_sign_in(api: Api) -> None:
    user_id, _ = enrolled_staff(api)
    _, someone_else = enrolled_staff(api)
    stolen = sign_in(api, user_id, PASSWORD, one_time_code=someone_else.recovery_codes[0])
    assert stolen.status_code == 401


def test_the_secret_is_stored_sealed_and_never_in_an_event(api: Api) -> None:
    user_id = new_staff(api)
    headers = bearer(sign_in(api, user_id, PASSWORD))
    authenticator = enrol(api.client, headers)
    with api.container.pool.connection() as conn:
        stored = conn.execute("SELECT sealed_secret FROM mfa").fetchall()
    assert stored
    assert all(authenticator.secret not in row[0] for row in stored)
    events = list(api.container.accounts.events.get(api.account_id(user_id)))
    assert type(events[-1]).__name__ == "MfaEnabled"
    assert all(authenticator.secret not in repr(vars(event)) for event in events)


def test_staff_cannot_turn_the_second_factor_off_but_a_customer_can(api: Api) -> None:
    user_id, authenticator = enrolled_staff(api)
    staff = bearer(sign_in(api, user_id, PASSWORD, one_time_code=authenticator.code()))
    body = {"password": PASSWORD, "one_time_code": authenticator.code()}
    refused = api.client.request("DELETE", "/v1/me/mfa", json=body, headers=staff)
    assert refused.status_code == 403
    customer = verified(api)
    headers = bearer(sign_in(api, customer["user_id"], customer["password"]))
    phone = enrol(api.client, headers, customer["password"])
    no_code = sign_in(api, customer["user_id"], customer["password"])
    assert error_code(no_code) == "one_time_code_required"
    wrong = {"password": customer["password"], "one_time_code": "000000"}
    assert (
        api.client.request("DELETE", "/v1/me/mfa", json=wrong, headers=headers).status_code == 401
    )
    right = {"password": customer["password"], "one_time_code": phone.code()}
    off = api.client.request("DELETE", "/v1/me/mfa", json=right, headers=headers)
    assert off.status_code == 204, off.text
    assert sign_in(api, customer["user_id"], customer["password"]).status_code == 201


def test_sign_out_everywhere_ends_every_session_and_trusted_device(api: Api) -> None:
    body = verified(api)
    first = sign_in(api, body["user_id"], body["password"])
    second = bearer(sign_in(api, body["user_id"], body["password"]))
    listed = api.client.get("/v1/me/sessions", headers=second)
    assert listed.status_code == 200
    sessions = listed.json()["sessions"]
    assert len(sessions) == 2
    assert [s["current"] for s in sessions] == [False, True]
    assert all(first.json()["token"] not in str(s.values()) for s in sessions)
    assert api.client.delete("/v1/me/sessions", headers=second).status_code == 204
    assert api.client.get("/v1/me", headers=bearer(first)).status_code == 401
    assert api.client.get("/v1/me", headers=second).status_code == 401
    attempt = api.container.signin.begin(
        body["user_id"], CLIENT, first.json()["device_token"], datetime.now(UTC)
    )
    assert attempt.device_key is None, "the device token was forgotten"


def test_a_trusted_device_token_ends_with_a_password_change_and_with_age(api: Api) -> None:
    body = verified(api)
    signed = sign_in(api, body["user_id"], body["password"])
    token, signin, now = signed.json()["device_token"], api.container.signin, datetime.now(UTC)
    assert signin.begin(body["user_id"], CLIENT, token, now).device_key is not None
    old = now + timedelta(days=91)
    assert signin.begin(body["user_id"], CLIENT, token, old).device_key is None
    changed = api.client.post(
        "/v1/me/password",
        json={"current_password": body["password"], "new_password": "soto ayam lamongan 99"},
        headers=bearer(signed),
    )
    assert changed.status_code == 200, changed.text
    assert signin.begin(body["user_id"], CLIENT, token, now).device_key is None


def test_staff_sessions_end_after_idle_time_and_at_their_absolute_lifetime(api: Api) -> None:
    user_id, authenticator = enrolled_staff(api)
    signin = api.container.signin
    start = datetime.now(UTC)
    attempt = signin.begin(user_id, CLIENT, None, start)
    token = signin.finish(attempt, PASSWORD, start, authenticator.code()).session.token
    assert signin.session(token, start + timedelta(minutes=31)) is None
    attempt = signin.begin(user_id, CLIENT, None, start)
    token = signin.finish(attempt, PASSWORD, start, authenticator.code()).session.token
    for minutes in range(20, 12 * 60, 20):  # used every 20 minutes: never idle
        assert signin.session(token, start + timedelta(minutes=minutes)) is not None
    assert signin.session(token, start + timedelta(hours=12, minutes=1)) is None


def test_a_customer_session_outlives_a_staff_idle_period(api: Api) -> None:
    body = verified(api)
    signin, start = api.container.signin, datetime.now(UTC)
    attempt = signin.begin(body["user_id"], CLIENT, None, start)
    token = signin.finish(attempt, body["password"], start).session.token
    assert signin.session(token, start + timedelta(hours=2)) is not None


def test_the_first_admins_one_time_password_expires_and_an_operator_issues_another(
    api: Api,
) -> None:
    identity, signin, made = api.container.identity, api.container.signin, datetime.now(UTC)
    one_time = ensure_first_admin(identity, made)
    assert one_time is not None
    later = made + timedelta(hours=25)
    with pytest.raises(Forbidden) as expired:
        signin.finish(signin.begin("admin", CLIENT, None, later), one_time, later)
    assert expired.value.code == "one_time_password_expired"
    fresh = staff_accounts.issue_one_time_password(identity, "admin", later)
    signed = signin.finish(signin.begin("admin", CLIENT, None, later), fresh, later)
    assert signed.must_change_password
    assert signed.mfa_enrolment_required
    with pytest.raises(Unauthenticated):
        signin.finish(signin.begin("admin", CLIENT, None, later), one_time, later)


def test_erasure_destroys_the_totp_secret(api: Api) -> None:
    body = verified(api)
    headers = bearer(sign_in(api, body["user_id"], body["password"]))
    enrol(api.client, headers, body["password"])
    account_id = api.account_id(body["user_id"])
    with api.container.pool.connection() as conn:
        row = conn.execute("SELECT sealed_secret FROM mfa WHERE account_id = %s", (account_id,))
        sealed = row.fetchone()
    assert sealed is not None
    erased = api.client.request(
        "DELETE", "/v1/me", json={"password": body["password"]}, headers=headers
    )
    assert erased.status_code == 204, erased.text
    assert api.container.keyring.unseal(sealed[0]) is None


def test_only_a_signed_in_person_sees_or_ends_their_sessions(api: Api) -> None:
    with api.container.pool.connection() as conn:
        _, secret = create_key(conn, "CGK10000", "counter")
    device = {"X-API-Key": secret}
    for method in ("GET", "DELETE"):
        assert api.client.request(method, "/v1/me/sessions").status_code == 401
        assert api.client.request(method, "/v1/me/sessions", headers=device).status_code == 403
    user_id = new_staff(api, Role.HUB_OPERATOR)
    enrolling = bearer(sign_in(api, user_id, PASSWORD))
    assert api.client.get("/v1/me/sessions", headers=enrolling).status_code == 403
    assert api.client.delete("/v1/me/sessions", headers=enrolling).status_code == 204
    assert api.client.get("/v1/me", headers=enrolling).status_code == 401


def test_a_full_session_turns_two_step_sign_in_on_only_with_the_password(api: Api) -> None:
    """A stolen customer session must not lock the owner out with the thief's app."""
    body = verified(api)
    headers = bearer(sign_in(api, body["user_id"], body["password"]))
    started = api.client.post("/v1/me/mfa", headers=headers).json()
    code = Authenticator(started["secret"]).code()

    thief = api.client.post("/v1/me/mfa/confirm", json={"one_time_code": code}, headers=headers)
    wrong = {"one_time_code": code, "current_password": "not the password 12"}
    guessed = api.client.post("/v1/me/mfa/confirm", json=wrong, headers=headers)

    assert (thief.status_code, error_code(thief)) == (401, "password_required")
    assert (guessed.status_code, error_code(guessed)) == (401, "invalid_password")
    assert sign_in(api, body["user_id"], body["password"]).status_code == 201, "still off"
    owner = {"one_time_code": code, "current_password": body["password"]}
    assert api.client.post("/v1/me/mfa/confirm", json=owner, headers=headers).status_code == 200

"""Accounts through the HTTP API, in-process against the real database: registration,
verification, sessions, lock-out, password change and reset, e-mail change, erasure.

The link tokens are issued here the way the e-mail sender issues them (its own tests,
with a real SMTP server, read them from the e-mails)."""

import statistics
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from commands.accounts.identity import NewAccount
from commands.container import Container
from consumers.registry import projection
from consumers.runner import ProjectionRunner
from domain.booking import Booking
from infra.messaging.relay import Relay
from infra.postgres import tokens
from infra.postgres.device_keys import create_key
from infra.runtime.bootstrap import bootstrap
from infra.settings import Settings
from tests.e2e.test_system import booking
from tests.integration.workers import running
from tests.support import booking as domain_booking
from tests.support import wait_until


@dataclass
class Api:
    client: TestClient
    container: Container

    def account_id(self, user_id: str) -> UUID:
        key = self.container.identity.user_key(user_id)
        with self.container.pool.connection() as conn:
            row = conn.execute("SELECT account_id FROM credentials WHERE user_key = %s", (key,))
            found = row.fetchone()
        assert found is not None
        return UUID(str(found[0]))

    def link(self, user_id: str, purpose: tokens.Purpose, payload: str | None = None) -> str:
        """What the e-mail sender would put in the link it sends."""
        with self.container.pool.connection() as conn:
            return tokens.issue(conn, self.account_id(user_id), purpose, payload)


@contextmanager
def running_api(settings: Settings, floor_s: float) -> Iterator[Api]:
    container = bootstrap(settings.model_copy(update={"auth_min_response_s": floor_s}))
    with TestClient(create_app(container)) as client:
        yield Api(client, container)
    container.close()


@pytest.fixture
def api(settings: Settings) -> Iterator[Api]:
    with running_api(settings, floor_s=0.05) as running:
        yield running


def registration(user_id: str | None = None, **changes: Any) -> dict[str, Any]:
    user_id = user_id or f"sari-{uuid4().hex[:8]}"
    return {
        "user_id": user_id,
        "email": f"{user_id}@example.id",
        "password": "nasi goreng kambing 77",
        "display_name": "Sari Dewi",
        "phone": "081234567890",
    } | changes


def sign_in(api: Api, user_id: str, password: str, **extra: Any) -> Any:
    return api.client.post("/v1/sessions", json={"user_id": user_id, "password": password} | extra)


def ask_for_email_change(
    api: Api, person: dict[str, Any], new_email: str, headers: dict[str, str] | None = None
) -> UUID:
    """`person` asks (in a session of theirs, or a new one) to move to `new_email`; the id
    of the pending change."""
    headers = headers or bearer(sign_in(api, person["user_id"], person["password"]))
    asked = api.client.post(
        "/v1/me/email",
        json={"current_password": person["password"], "new_email": new_email},
        headers=headers,
    )
    assert asked.status_code == 202, asked.text
    account = api.container.accounts.account(api.account_id(person["user_id"]))
    assert account.pending_change is not None
    return account.pending_change[0]


def verified(api: Api, **changes: Any) -> dict[str, Any]:
    body = registration(**changes)
    assert api.client.post("/v1/accounts", json=body).status_code == 202
    token = api.link(body["user_id"], tokens.Purpose.VERIFY_EMAIL)
    proof = {"token": token, "password": body["password"]}
    assert api.client.post("/v1/accounts/verify-email", json=proof).status_code == 200
    return body


def bearer(answer: Any) -> dict[str, str]:
    assert answer.status_code == 201, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def test_an_account_is_usable_only_after_its_email_is_verified(api: Api) -> None:
    body = registration()
    first = api.client.post("/v1/accounts", json=body)
    assert first.status_code == 202
    refused = sign_in(api, body["user_id"], body["password"])
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "email_not_verified"
    proof = {"token": api.link(body["user_id"], tokens.Purpose.VERIFY_EMAIL)}
    proof["password"] = body["password"]
    assert api.client.post("/v1/accounts/verify-email", json=proof).status_code == 200
    again = api.client.post("/v1/accounts/verify-email", json=proof)
    assert again.status_code == 422, "a link works once"
    headers = bearer(sign_in(api, body["user_id"], body["password"]))
    me = api.client.get("/v1/me", headers=headers).json()
    assert (me["user_id"], me["email"], me["phone"]) == (
        body["user_id"],
        body["email"],
        body["phone"],
    )
    assert me["email_verified"] is True


def test_registering_a_taken_user_id_answers_exactly_like_a_new_one(api: Api) -> None:
    body = registration()
    first = api.client.post("/v1/accounts", json=body)
    second = api.client.post("/v1/accounts", json=body | {"email": "other@example.id"})
    assert (first.status_code, first.json()) == (second.status_code, second.json())
    assert sign_in(api, body["user_id"], body["password"]).json()["error"]["code"] == (
        "email_not_verified"
    ), "the first registrant keeps the user id"


def _age_registration(api: Api, user_id: str, hours: int) -> None:
    """Move the registration and its links `hours` into the past."""
    account_id, age = api.account_id(user_id), timedelta(hours=hours)
    with api.container.pool.connection() as conn:
        conn.execute(
            "UPDATE credentials SET created_at = created_at - %s WHERE account_id = %s",
            (age, account_id),
        )
        conn.execute(
            "UPDATE one_time_tokens SET created_at = created_at - %s, expires_at = expires_at - %s "
            "WHERE account_id = %s",
            (age, age, account_id),
        )


def test_an_unverified_registration_gives_its_user_id_up_once_its_link_has_expired(
    api: Api,
) -> None:
    squatter = registration(email="not-mine@example.id", password="kopi tubruk panas 19")
    assert api.client.post("/v1/accounts", json=squatter).status_code == 202
    stale_id = api.account_id(squatter["user_id"])
    stale_link = api.link(squatter["user_id"], tokens.Purpose.VERIFY_EMAIL)
    sealed_email = api.container.accounts.account(stale_id).email
    _age_registration(api, squatter["user_id"], hours=25)

    owner = verified(api, user_id=squatter["user_id"])

    assert api.account_id(owner["user_id"]) != stale_id
    assert api.container.accounts.account(stale_id).erased_at is not None
    assert api.container.keyring.unseal(sealed_email) is None, "its key is destroyed"
    stale = {"token": stale_link, "password": squatter["password"]}
    used = api.client.post("/v1/accounts/verify-email", json=stale)
    assert used.status_code == 422, "the stale link died with its registration"
    assert sign_in(api, owner["user_id"], squatter["password"]).status_code == 401
    bearer(sign_in(api, owner["user_id"], owner["password"]))


def test_a_registration_keeps_its_user_id_while_a_link_to_verify_it_lives(api: Api) -> None:
    slow = registration()
    assert api.client.post("/v1/accounts", json=slow).status_code == 202
    _age_registration(api, slow["user_id"], hours=25)
    link = api.link(slow["user_id"], tokens.Purpose.VERIFY_EMAIL)  # the mail went out late
    taken = registration(user_id=slow["user_id"], email="other@example.id")
    assert api.client.post("/v1/accounts", json=taken).status_code == 202
    proof = {"token": link, "password": slow["password"]}
    assert api.client.post("/v1/accounts/verify-email", json=proof).status_code == 200
    bearer(sign_in(api, slow["user_id"], slow["password"]))


def _claim_without_account(api: Api, user_id: str, minutes_ago: int) -> None:
    """What a registration that crashed between its two writes leaves: a claim, no account."""
    with api.container.pool.connection() as conn:
        conn.execute(
            """INSERT INTO credentials (account_id, user_key, role, status, password_hash,
                   created_at)
               VALUES (%s, %s, 'customer', 'pending', 'x', now() - make_interval(mins => %s))""",
            (uuid4(), api.container.identity.user_key(user_id), minutes_ago),
        )


def test_a_crashed_registrations_claim_is_freed_after_its_grace_not_before(api: Api) -> None:
    in_flight, crashed = registration(), registration()
    _claim_without_account(api, in_flight["user_id"], minutes_ago=1)
    _claim_without_account(api, crashed["user_id"], minutes_ago=10)
    for body in (in_flight, crashed):
        assert api.client.post("/v1/accounts", json=body).status_code == 202
    token = api.link(crashed["user_id"], tokens.Purpose.VERIFY_EMAIL)
    proof = {"token": token, "password": crashed["password"]}
    assert api.client.post("/v1/accounts/verify-email", json=proof).status_code == 200
    bearer(sign_in(api, crashed["user_id"], crashed["password"]))
    kept = sign_in(api, in_flight["user_id"], in_flight["password"])
    assert kept.status_code == 401, "a claim still within its grace was not taken over"


def test_a_verified_account_keeps_its_user_id_however_old(api: Api) -> None:
    owner = verified(api)
    _age_registration(api, owner["user_id"], hours=24 * 400)
    taken = registration(user_id=owner["user_id"], email="other@example.id")
    assert api.client.post("/v1/accounts", json=taken).status_code == 202
    bearer(sign_in(api, owner["user_id"], owner["password"]))


@pytest.mark.parametrize("held_by", ["nobody", "an expired registration"])
def test_of_many_racing_registrants_exactly_one_gets_the_user_id(api: Api, held_by: str) -> None:
    user_id, erased = f"racer-{uuid4().hex[:8]}", []
    if held_by == "an expired registration":
        stale = registration(user_id)
        assert api.client.post("/v1/accounts", json=stale).status_code == 202
        erased.append(api.account_id(user_id))
        _age_registration(api, user_id, hours=25)
    identity, now = api.container.identity, datetime.now(UTC)
    racers = [
        NewAccount(user_id, f"racer{n}@example.id", "nasi goreng kambing 77", "Racer", None)
        for n in range(10)
    ]
    with ThreadPoolExecutor(len(racers)) as pool:
        claimed = list(pool.map(lambda new: identity.register(new, now), racers))

    winners = [account_id for account_id in claimed if account_id is not None]
    assert len(winners) == 1, claimed
    assert api.account_id(user_id) == winners[0]
    with api.container.pool.connection() as conn:
        topics = conn.execute(
            "SELECT originator_id, topic FROM accounts.accounts_events "
            "WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version",
            (erased + winners,),
        ).fetchall()
    kinds = [(account_id, topic.rsplit(".", 1)[-1]) for account_id, topic in topics]
    expected = [(winners[0], "Registered")] + [
        (account_id, kind) for account_id in erased for kind in ("Registered", "Erased")
    ]
    assert sorted(kinds) == sorted(expected)


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("short pass", "too short"),
        ("x" * 129, "too long"),
        ("password1234", "common"),
        ("Qwertyuiop123!", "common with noise"),
    ],
)
def test_weak_passwords_are_refused_and_nothing_is_registered(
    api: Api, password: str, why: str
) -> None:
    body = registration(password=password)
    answer = api.client.post("/v1/accounts", json=body)
    assert answer.status_code == 422, why
    assert password not in answer.text
    with api.container.pool.connection() as conn:
        assert conn.execute("SELECT count(*) FROM credentials").fetchone() == (0,)


def test_passwords_are_argon2id_and_never_stored_in_events(api: Api, settings: Settings) -> None:
    body = verified(api)
    with api.container.pool.connection() as conn:
        (stored,) = conn.execute("SELECT password_hash FROM credentials").fetchone() or ("",)
        events = conn.execute("SELECT state FROM accounts.accounts_events").fetchall()
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    blob = b"".join(bytes(state) for (state,) in events)
    assert body["password"].encode() not in blob
    assert b"$argon2" not in blob


def test_a_hash_is_upgraded_at_login_when_the_parameters_change(
    api: Api, settings: Settings
) -> None:
    body = verified(api)
    stronger = bootstrap(
        settings.model_copy(update={"argon2_time_cost": 3, "auth_min_response_s": 0})
    )
    try:
        with TestClient(create_app(stronger)) as client:
            answer = client.post(
                "/v1/sessions", json={"user_id": body["user_id"], "password": body["password"]}
            )
            assert answer.status_code == 201
    finally:
        stronger.close()
    with api.container.pool.connection() as conn:
        (stored,) = conn.execute("SELECT password_hash FROM credentials").fetchone() or ("",)
    assert ",t=3," in stored


def test_each_login_gets_a_new_session_and_logout_revokes_it(api: Api) -> None:
    body = verified(api)
    first = bearer(sign_in(api, body["user_id"], body["password"]))
    second = bearer(sign_in(api, body["user_id"], body["password"]))
    assert first != second
    assert api.client.delete("/v1/sessions/current", headers=first).status_code == 204
    assert api.client.get("/v1/me", headers=first).status_code == 401
    assert api.client.get("/v1/me", headers=second).status_code == 200
    with api.container.pool.connection() as conn:
        hashes = conn.execute("SELECT token_hash FROM sessions").fetchall()
    raw = [h["Authorization"].split()[1].encode() for h in (first, second)]
    assert all(token not in bytes(digest) for (digest,) in hashes for token in raw)


def test_a_password_change_ends_every_session(api: Api) -> None:
    body = verified(api)
    old = [bearer(sign_in(api, body["user_id"], body["password"])) for _ in range(2)]
    new_password = "sate ayam madura 2026"
    changed = api.client.post(
        "/v1/me/password",
        json={"current_password": body["password"], "new_password": new_password},
        headers=old[0],
    )
    assert changed.status_code == 200, changed.text
    assert all(api.client.get("/v1/me", headers=h).status_code == 401 for h in old)
    fresh = {"Authorization": f"Bearer {changed.json()['token']}"}
    assert api.client.get("/v1/me", headers=fresh).status_code == 200
    assert sign_in(api, body["user_id"], body["password"]).status_code == 401
    assert sign_in(api, body["user_id"], new_password).status_code == 201


def test_an_attacker_locks_out_other_devices_but_never_the_customers_own(api: Api) -> None:
    body = verified(api)
    device_token = sign_in(api, body["user_id"], body["password"]).json()["device_token"]
    answers = [sign_in(api, body["user_id"], "wrong password guess").status_code for _ in range(12)]
    assert answers[:10] == [401] * 10
    assert answers[10:] == [429, 429]
    locked = sign_in(api, body["user_id"], body["password"])
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0
    own_device = sign_in(api, body["user_id"], body["password"], device_token=device_token)
    assert own_device.status_code == 201, "the customer's own device still signs in"


def test_a_password_reset_by_email_link_unlocks_and_ends_sessions(api: Api) -> None:
    body = verified(api)
    session = bearer(sign_in(api, body["user_id"], body["password"]))
    for _ in range(11):
        sign_in(api, body["user_id"], "wrong password guess")
    asked = api.client.post("/v1/password-resets", json={"user_id": body["user_id"]})
    assert asked.status_code == 202
    token = api.link(body["user_id"], tokens.Purpose.RESET_PASSWORD)
    new_password = "gado gado jakarta 99"
    reset = api.client.post(
        "/v1/password-resets/confirm", json={"token": token, "new_password": new_password}
    )
    assert reset.status_code == 200, reset.text
    assert api.client.get("/v1/me", headers=session).status_code == 401
    assert sign_in(api, body["user_id"], new_password).status_code == 201


def test_an_email_change_needs_the_password_and_waits_for_the_new_address(api: Api) -> None:
    body = verified(api)
    headers = bearer(sign_in(api, body["user_id"], body["password"]))
    new_email = f"new-{uuid4().hex[:6]}@example.id"
    wrong = api.client.post(
        "/v1/me/email",
        json={"current_password": "not my password", "new_email": new_email},
        headers=headers,
    )
    assert wrong.status_code == 401
    asked = api.client.post(
        "/v1/me/email",
        json={"current_password": body["password"], "new_email": new_email},
        headers=headers,
    )
    assert asked.status_code == 202
    me = api.client.get("/v1/me", headers=headers).json()
    assert (me["email"], me["pending_email"]) == (body["email"], new_email)
    account = api.container.accounts.account(api.account_id(body["user_id"]))
    assert account.pending_change is not None
    change_id = str(account.pending_change[0])
    token = api.link(body["user_id"], tokens.Purpose.CONFIRM_EMAIL_CHANGE, change_id)
    proof = {"token": token, "password": body["password"]}
    confirmed = api.client.post("/v1/email-changes/confirm", json=proof)
    assert confirmed.status_code == 200, confirmed.text
    me = api.client.get("/v1/me", headers=headers).json()
    assert (me["email"], me["pending_email"]) == (new_email, None)


@pytest.fixture
def counter(api: Api, settings: Settings) -> Iterator[dict[str, str]]:
    """A counter device's key, with the shipments relay and tracking projection running."""
    with psycopg.connect(settings.require_database_url(), autocommit=True) as conn:
        _key_id, secret = create_key(conn, "CGK10000", "counter")
    runner = ProjectionRunner(projection("tracking"), settings)
    with running(Relay(api.container.shipments, settings)), running(runner):
        yield {"X-API-Key": secret}


def _book_to(api: Api, counter: dict[str, str], **emails: str) -> str:
    body = booking()
    for role, email in emails.items():
        body[role]["email"] = email
    booked = api.client.post("/v1/shipments", json=body, headers=counter)
    assert booked.status_code == 201, booked.text
    return str(booked.json()["awb"])


def booking_of_domain(receiver_email: str) -> Booking:
    plain = domain_booking()
    return replace(plain, receiver=replace(plain.receiver, email=receiver_email))


def _my_shipments(api: Api, headers: dict[str, str]) -> dict[str, str]:
    answer = api.client.get("/v1/me/shipments", headers=headers)
    assert answer.status_code == 200, answer.text
    return {shipment["awb"]: shipment["role"] for shipment in answer.json()["shipments"]}


def test_parcels_booked_to_an_address_reach_whoever_verifies_it_later(
    api: Api, counter: dict[str, str]
) -> None:
    rina = registration(email=f"rina-{uuid4().hex[:6]}@example.id")
    to_rina = _book_to(api, counter, receiver=rina["email"].upper())
    from_rina = _book_to(api, counter, shipper=rina["email"])
    assert api.client.post("/v1/accounts", json=rina).status_code == 202
    unverified = api.link(rina["user_id"], tokens.Purpose.VERIFY_EMAIL)
    mallory = verified(api)
    mallory_headers = bearer(sign_in(api, mallory["user_id"], mallory["password"]))

    verify = {"token": unverified, "password": rina["password"]}
    assert api.client.post("/v1/accounts/verify-email", json=verify).status_code == 200
    headers = bearer(sign_in(api, rina["user_id"], rina["password"]))
    expected = {to_rina: "receiver", from_rina: "shipper"}
    assert wait_until(lambda: _my_shipments(api, headers) == expected, timeout=60)
    own = api.client.get(f"/v1/me/shipments/{to_rina}", headers=headers)
    assert own.json()["receiver"]["name"] == "Agus Salim", "in full, to its owner"
    assert _my_shipments(api, mallory_headers) == {}
    other = api.client.get(f"/v1/me/shipments/{to_rina}", headers=mallory_headers)
    assert other.status_code == 404
    with api.container.pool.connection() as conn:
        assert conn.execute("SELECT count(*) FROM waiting_parties").fetchone() == (0,)


def test_a_booking_that_missed_a_verification_by_a_moment_still_links_it(api: Api) -> None:
    siti = verified(api)
    plain = booking_of_domain(receiver_email=siti["email"])
    now = datetime.now(UTC)
    booked = api.container.shipments.book(plain, actor="counter", now=now)  # looked up: nobody
    unlinked: dict[str, UUID | None] = {"shipper": None, "receiver": None}

    api.container.party_links.wait_for_owners(booked.shipment_id, plain, unlinked, now)

    shipment = api.container.shipments.shipment(booked.awb)
    assert shipment.receiver_account == api.account_id(siti["user_id"])


def test_a_confirmed_new_address_brings_its_waiting_parcels_along(
    api: Api, counter: dict[str, str]
) -> None:
    body = verified(api)
    headers = bearer(sign_in(api, body["user_id"], body["password"]))
    new_email = f"new-{uuid4().hex[:6]}@example.id"
    awb = _book_to(api, counter, receiver=new_email)
    asked = api.client.post(
        "/v1/me/email",
        json={"current_password": body["password"], "new_email": new_email},
        headers=headers,
    )
    assert asked.status_code == 202
    assert not wait_until(lambda: _my_shipments(api, headers) != {}, timeout=2), (
        "an address merely asked for links nothing"
    )
    account = api.container.accounts.account(api.account_id(body["user_id"]))
    assert account.pending_change is not None
    change_id = str(account.pending_change[0])
    token = api.link(body["user_id"], tokens.Purpose.CONFIRM_EMAIL_CHANGE, change_id)
    confirmed = api.client.post("/v1/email-changes/confirm", json={"token": token}, headers=headers)
    assert confirmed.status_code == 200, "a session of the account proves it too"
    assert wait_until(lambda: _my_shipments(api, headers) == {awb: "receiver"}, timeout=60)


def test_erasure_needs_the_password_and_leaves_nothing_readable(api: Api) -> None:
    body = verified(api)
    headers = bearer(sign_in(api, body["user_id"], body["password"]))
    account_id = api.account_id(body["user_id"])
    sealed = api.container.accounts.account(account_id).email
    refused = api.client.request(
        "DELETE", "/v1/me", json={"password": "not my password"}, headers=headers
    )
    assert refused.status_code == 401
    assert api.container.keyring.unseal(sealed) == body["email"]
    erased = api.client.request(
        "DELETE", "/v1/me", json={"password": body["password"]}, headers=headers
    )
    assert erased.status_code == 204
    assert api.container.keyring.unseal(sealed) is None
    assert api.client.get("/v1/me", headers=headers).status_code == 401
    assert sign_in(api, body["user_id"], body["password"]).status_code == 401
    again = api.client.post("/v1/accounts", json=body)
    assert again.status_code == 202, "the user id is free again"


def _median_seconds(call: Callable[[int], Any], samples: int = 9) -> tuple[float, set[Any]]:
    times, answers = [], set()
    for n in range(samples):
        started = time.perf_counter()
        answer = call(n)
        times.append(time.perf_counter() - started)
        answers.add((answer.status_code, answer.text))
    return statistics.median(times), answers


def test_answers_do_not_tell_whether_an_account_exists(settings: Settings) -> None:
    # Nine reset requests for one account, and nine registrations naming one e-mail
    # address, within the hour: past their rate limits.
    generous = settings.model_copy(
        update={
            "limit_password_resets_per_account_hour": 20,
            "limit_registrations_per_email_hour": 20,
        }
    )
    with running_api(generous, floor_s=0.2) as api:
        _compare_existing_and_unknown(api)


def _compare_existing_and_unknown(api: Api) -> None:
    body = verified(api)
    existing, unknown = body["user_id"], f"nobody-{uuid4().hex[:8]}"
    client = api.client

    def login(user_id: Callable[[int], str]) -> Callable[[int], Any]:
        def attempt(n: int) -> Any:
            answer = sign_in(api, user_id(n), "wrong password guess")
            sign_in(api, existing, body["password"])  # forgive: every sample is a 1st failure
            return answer

        return attempt

    cases = {
        "login": (login(lambda n: existing), login(lambda n: f"{unknown}{n}")),
        "reset": (
            lambda n: client.post("/v1/password-resets", json={"user_id": existing}),
            lambda n: client.post("/v1/password-resets", json={"user_id": f"{unknown}{n}"}),
        ),
        "register": (
            lambda n: client.post("/v1/accounts", json=registration(existing)),
            lambda n: client.post("/v1/accounts", json=registration(f"{unknown}{n}")),
        ),
    }
    for name, (known_call, unknown_call) in cases.items():
        known_time, known_answers = _median_seconds(known_call)
        unknown_time, unknown_answers = _median_seconds(unknown_call)
        assert known_answers == unknown_answers, name
        assert len(known_answers) == 1, name
        assert abs(known_time - unknown_time) < 0.2 * min(known_time, unknown_time), (
            name,
            known_time,
            unknown_time,
        )


def test_sessions_expire_when_idle(api: Api, settings: Settings) -> None:
    body = verified(api)
    headers = bearer(sign_in(api, body["user_id"], body["password"]))
    with psycopg.connect(settings.require_database_url(), autocommit=True) as conn:
        conn.execute("UPDATE sessions SET last_seen_at = last_seen_at - interval '2 days'")
    assert api.client.get("/v1/me", headers=headers).status_code == 401

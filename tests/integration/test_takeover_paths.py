"""Issue 14's takeover paths, through the HTTP API against the real database: a pending
e-mail change does not survive a password reset or change, the old address can cancel
(or undo) a change, a weak new password leaves the reset link working, display names
cannot carry links, and a parcel's description is sealed.

Link tokens are issued here the way the e-mail sender issues them (tests/integration/
test_mail.py checks the e-mails themselves carry them)."""

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest

from consumers.registry import projection
from consumers.runner import ProjectionRunner
from domain.sealing import is_sealed
from infra.messaging.relay import Relay
from infra.postgres import tokens
from infra.settings import Settings
from tests.integration.test_accounts_api import (
    Api,
    ask_for_email_change,
    bearer,
    booking_of_domain,
    registration,
    running_api,
    sign_in,
    verified,
)
from tests.integration.workers import running
from tests.support import wait_until


@pytest.fixture
def api(settings: Settings) -> Iterator[Api]:
    with running_api(settings, floor_s=0.05) as running:
        yield running


@pytest.fixture
def tracking(api: Api, settings: Settings) -> Iterator[None]:
    """The shipments relay and the tracking projection, running."""
    runner = ProjectionRunner(projection("tracking"), settings)
    with running(Relay(api.container.shipments, settings)), running(runner):
        yield


ATTACKER_ADDRESS = "mallory@evil.example"


def _confirm_link(api: Api, person: dict[str, Any], change_id: UUID) -> str:
    return api.link(person["user_id"], tokens.Purpose.CONFIRM_EMAIL_CHANGE, str(change_id))


def _cancel_link(api: Api, person: dict[str, Any], change_id: UUID) -> str:
    return api.link(person["user_id"], tokens.Purpose.CANCEL_EMAIL_CHANGE, str(change_id))


def _profile(api: Api, person: dict[str, Any], password: str | None = None) -> Any:
    headers = bearer(sign_in(api, person["user_id"], password or person["password"]))
    return api.client.get("/v1/me", headers=headers).json()


def test_a_password_reset_cancels_a_pending_email_change(api: Api) -> None:
    victim = verified(api)
    change_id = ask_for_email_change(api, victim, ATTACKER_ADDRESS)  # the attacker knows it
    confirm = _confirm_link(api, victim, change_id)  # in the attacker's mailbox

    api.client.post("/v1/password-resets", json={"user_id": victim["user_id"]})
    reset_token = api.link(victim["user_id"], tokens.Purpose.RESET_PASSWORD)
    new_password = "rendang padang pedas 42"
    reset = api.client.post(
        "/v1/password-resets/confirm", json={"token": reset_token, "new_password": new_password}
    )
    assert reset.status_code == 200, reset.text

    # The attacker knows the old password, which is all a confirmation asks for.
    proof = {"token": confirm, "password": victim["password"]}
    confirmed = api.client.post("/v1/email-changes/confirm", json=proof)
    assert confirmed.status_code == 422, confirmed.text
    assert confirmed.json()["error"]["code"] == "invalid_token"
    me = _profile(api, victim, new_password)
    assert (me["email"], me["pending_email"]) == (victim["email"], None)


def test_a_password_change_cancels_a_pending_email_change(api: Api) -> None:
    victim = verified(api)
    change_id = ask_for_email_change(api, victim, ATTACKER_ADDRESS)
    confirm = _confirm_link(api, victim, change_id)
    headers = bearer(sign_in(api, victim["user_id"], victim["password"]))
    new_password = "soto betawi hangat 31"
    changed = api.client.post(
        "/v1/me/password",
        json={"current_password": victim["password"], "new_password": new_password},
        headers=headers,
    )
    assert changed.status_code == 200, changed.text

    # The attacker knows the old password, which is all a confirmation asks for.
    proof = {"token": confirm, "password": victim["password"]}
    confirmed = api.client.post("/v1/email-changes/confirm", json=proof)
    assert confirmed.status_code == 422, confirmed.text
    assert _profile(api, victim, new_password)["email"] == victim["email"]


def test_the_old_address_cancels_a_pending_change_and_signs_everyone_out(api: Api) -> None:
    victim = verified(api)
    change_id = ask_for_email_change(api, victim, ATTACKER_ADDRESS)
    attacker_session = bearer(sign_in(api, victim["user_id"], victim["password"]))
    confirm = _confirm_link(api, victim, change_id)

    cancelled = api.client.post(
        "/v1/email-changes/cancel", json={"token": _cancel_link(api, victim, change_id)}
    )

    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "email_change_cancelled"
    assert api.client.get("/v1/me", headers=attacker_session).status_code == 401
    proof = {"token": confirm, "password": victim["password"]}
    assert api.client.post("/v1/email-changes/confirm", json=proof).status_code == 422
    me = _profile(api, victim)
    assert (me["email"], me["pending_email"]) == (victim["email"], None)
    account = api.container.accounts.account(api.account_id(victim["user_id"]))
    assert account.reset_requested_at is not None, "a reset link goes to the old address"


def test_the_old_address_undoes_a_change_the_attacker_already_confirmed(api: Api) -> None:
    victim = verified(api)
    change_id = ask_for_email_change(api, victim, ATTACKER_ADDRESS)
    cancel = _cancel_link(api, victim, change_id)  # in the notice to the old address
    confirm = _confirm_link(api, victim, change_id)
    proof = {"token": confirm, "password": victim["password"]}  # the attacker knows it
    assert api.client.post("/v1/email-changes/confirm", json=proof).status_code == 200
    attacker_session = bearer(sign_in(api, victim["user_id"], victim["password"]))
    assert api.client.get("/v1/me", headers=attacker_session).json()["email"] == ATTACKER_ADDRESS
    second = ask_for_email_change(api, victim, "mallory2@evil.example")
    _cancel_link(api, victim, second)  # a later notice, to the attacker: the first still works

    undone = api.client.post("/v1/email-changes/cancel", json={"token": cancel})

    assert undone.status_code == 200, undone.text
    assert api.client.get("/v1/me", headers=attacker_session).status_code == 401
    me = _profile(api, victim)
    assert (me["email"], me["pending_email"]) == (victim["email"], None)
    account_id = api.account_id(victim["user_id"])
    assert api.container.accounts.account(account_id).reset_requested_at is not None
    with api.container.pool.connection() as conn:
        owner = conn.execute(
            "SELECT account_id FROM credentials WHERE email_key = %s",
            (api.container.identity.email_key(victim["email"]),),
        ).fetchone()
    assert owner == (account_id,), "the old address finds the account again"
    again = api.client.post("/v1/email-changes/cancel", json={"token": cancel})
    assert again.json()["error"]["code"] == "invalid_token", "the link works once"


@pytest.mark.parametrize(
    ("token", "code"), [("x" * 43, "invalid_token"), ("not a token at all!", "invalid_request")]
)
def test_a_bad_cancel_link_is_refused_and_changes_nothing(api: Api, token: str, code: str) -> None:
    victim = verified(api)
    ask_for_email_change(api, victim, ATTACKER_ADDRESS)
    refused = api.client.post("/v1/email-changes/cancel", json={"token": token})
    assert (refused.status_code, refused.json()["error"]["code"]) == (422, code)
    assert _profile(api, victim)["pending_email"] == ATTACKER_ADDRESS


def test_a_weak_new_password_is_refused_and_the_reset_link_still_works(api: Api) -> None:
    person = verified(api)
    api.client.post("/v1/password-resets", json={"user_id": person["user_id"]})
    token = api.link(person["user_id"], tokens.Purpose.RESET_PASSWORD)

    weak = api.client.post(
        "/v1/password-resets/confirm", json={"token": token, "new_password": "password123"}
    )
    assert weak.status_code == 422, weak.text
    strong = api.client.post(
        "/v1/password-resets/confirm",
        json={"token": token, "new_password": "sate ayam madura 58"},
    )
    assert strong.status_code == 200, strong.text
    assert sign_in(api, person["user_id"], "sate ayam madura 58").status_code == 201


@pytest.mark.parametrize(
    "display_name",
    [
        "Jalur Care\nYour parcel is held: pay at https://evil.example/pay",
        "Kurir Jalur: buka evil.example/x",
        "Kurir www.jalur-paket.example",
        "Tim Jalur (jalur-care.com)",
        "Sari\u2028Dewi",
    ],
)
def test_a_display_name_that_reads_as_a_link_or_breaks_lines_is_refused(
    api: Api, display_name: str
) -> None:
    body = registration(display_name=display_name)
    refused = api.client.post("/v1/accounts", json=body)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] == "invalid_display_name"
    with api.container.pool.connection() as conn:
        key = api.container.identity.user_key(body["user_id"])
        found = conn.execute("SELECT 1 FROM credentials WHERE user_key = %s", (key,)).fetchone()
    assert found is None, "nothing was registered"


def test_a_plain_display_name_with_a_degree_is_accepted(api: Api) -> None:
    person = verified(api, display_name="Ir. Sari Dewi, S.Kom")
    assert _profile(api, person)["display_name"] == "Ir. Sari Dewi, S.Kom"


def test_a_parcel_description_is_sealed_shown_to_its_owner_never_in_public(
    api: Api, tracking: None
) -> None:
    person = verified(api)
    headers = bearer(sign_in(api, person["user_id"], person["password"]))
    secret = f"Obat HIV untuk {uuid4().hex[:6]}"
    body = {**_booking_from(person), "parcel": {**_parcel(), "description": secret}}
    booked = api.client.post("/v1/shipments", json=body, headers=headers)
    assert booked.status_code == 201, booked.text
    awb = booked.json()["awb"]

    shipment = api.container.shipments.shipment(awb)
    stored = api.container.shipments.recorder.select_events(shipment.id)
    assert stored, "the booking is in the event store"
    assert all(secret.encode() not in event.state for event in stored), "never in clear"
    assert is_sealed(shipment.booking["parcel"]["description"])

    def owner_sees_it() -> bool:
        own = api.client.get(f"/v1/me/shipments/{awb}", headers=headers)
        return bool(own.status_code == 200 and own.json()["parcel"]["description"] == secret)

    assert wait_until(owner_sees_it, timeout=60)
    public = api.client.get(f"/v1/track/{awb}")
    assert public.status_code == 200
    assert secret not in public.text


def _parcel() -> dict[str, Any]:
    return {
        "weight_grams": 1000,
        "length_cm": 10,
        "width_cm": 10,
        "height_cm": 10,
        "declared_value": 50000,
    }


def _booking_from(person: dict[str, Any]) -> dict[str, Any]:
    return {
        "service": "REG",
        "shipper": {
            "name": "Sari Dewi",
            "phone": person["phone"],
            "address": "Jl. Kenanga 3",
            "area": "CGK10110",
            "email": person["email"],
        },
        "receiver": {
            "name": "Budi Santoso",
            "phone": "081298765432",
            "address": "Jl. Pemuda 9",
            "area": "SUB60111",
        },
    }


def _linked_the_old_way(api: Api, person: dict[str, Any]) -> str:
    """A parcel whose receiver was linked before links were recorded (no linked_parties row)."""
    booked = api.container.shipments.book(
        booking_of_domain(receiver_email=person["email"]), actor="counter", now=datetime.now(UTC)
    )
    account_id = api.account_id(person["user_id"])
    api.container.shipments.link_party(booked.shipment_id, "receiver", account_id)
    receiver = api.container.shipments.shipment(booked.awb).booking["receiver"]
    sealed = receiver["name"]
    assert api.container.keyring.unseal(sealed) is not None
    return str(sealed)


def _erase(api: Api, person: dict[str, Any]) -> None:
    headers = bearer(sign_in(api, person["user_id"], person["password"]))
    erased = api.client.request(
        "DELETE", "/v1/me", json={"password": person["password"]}, headers=headers
    )
    assert erased.status_code == 204, erased.text


def test_the_upgrade_step_records_earlier_links_and_shreds_those_of_erased_accounts(
    api: Api,
) -> None:
    erased_before, erased_after = verified(api), verified(api)
    gone = _linked_the_old_way(api, erased_before)
    _erase(api, erased_before)
    assert api.container.keyring.unseal(gone) is not None, "missed by the old erasure"
    later = _linked_the_old_way(api, erased_after)

    assert api.container.party_links.record_earlier_links() == (1, 1)

    assert api.container.keyring.unseal(gone) is None
    assert api.container.keyring.unseal(later) is not None, "still theirs, until they erase"
    _erase(api, erased_after)
    assert api.container.keyring.unseal(later) is None


def test_cancelling_kills_the_attackers_reset_link_and_still_sends_the_owner_one(
    api: Api,
) -> None:
    victim = verified(api)
    change_id = ask_for_email_change(api, victim, ATTACKER_ADDRESS)
    cancel = _cancel_link(api, victim, change_id)
    proof = {"token": _confirm_link(api, victim, change_id), "password": victim["password"]}
    assert api.client.post("/v1/email-changes/confirm", json=proof).status_code == 200
    # The attacker, holding the address, asks for a reset: its link goes to them.
    api.client.post("/v1/password-resets", json={"user_id": victim["user_id"]})
    attackers_reset = api.link(victim["user_id"], tokens.Purpose.RESET_PASSWORD)
    account_id = api.account_id(victim["user_id"])
    asked_by_attacker = api.container.accounts.account(account_id).reset_requested_at

    assert api.client.post("/v1/email-changes/cancel", json={"token": cancel}).status_code == 200

    taken = api.client.post(
        "/v1/password-resets/confirm",
        json={"token": attackers_reset, "new_password": "rendang padang pedas 77"},
    )
    assert taken.status_code == 422, taken.text
    assert taken.json()["error"]["code"] == "invalid_token"
    owners_ask = api.container.accounts.account(account_id).reset_requested_at
    assert owners_ask is not None
    assert asked_by_attacker is not None
    assert owners_ask > asked_by_attacker, "the owner's reset is sent despite the cool-down"

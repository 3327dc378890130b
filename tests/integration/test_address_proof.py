"""Confirming an address needs proof of being the account that asked for it: its
password, or a session of it. Otherwise one click by the address's owner would hand the
parcels waiting for that address to whoever registered it."""

from datetime import UTC, datetime
from uuid import uuid4

from infra.postgres import tokens
from tests.integration.test_accounts_api import (
    Api,
    api,
    ask_for_email_change,
    bearer,
    booking_of_domain,
    registration,
    sign_in,
    verified,
)

__all__ = ["api"]


def _parcel_waiting_for(api: Api, email: str) -> str:
    plain = booking_of_domain(receiver_email=email)
    now = datetime.now(UTC)
    booked = api.container.shipments.book(plain, actor="counter", now=now)
    unlinked = {"shipper": None, "receiver": None}
    api.container.party_links.wait_for_owners(booked.shipment_id, plain, unlinked, now)
    return booked.awb


def _waiting(api: Api) -> int:
    with api.container.pool.connection() as conn:
        row = conn.execute("SELECT count(*) FROM waiting_parties").fetchone()
    assert row is not None
    return int(row[0])


def test_a_victim_clicking_an_attackers_verification_link_hands_over_nothing(api: Api) -> None:
    victim_email = f"dewi-{uuid4().hex[:6]}@example.id"
    awb = _parcel_waiting_for(api, victim_email)
    attacker = registration(email=victim_email, display_name="Jalur Kurir: buka tautan")
    assert api.client.post("/v1/accounts", json=attacker).status_code == 202
    link = api.link(attacker["user_id"], tokens.Purpose.VERIFY_EMAIL)

    clicked = api.client.post("/v1/accounts/verify-email", json={"token": link})

    assert clicked.status_code == 401, clicked.text
    assert clicked.json()["error"]["code"] == "password_required"
    assert api.container.shipments.shipment(awb).receiver_account is None
    victim = verified(api, password="sambal terasi pedas 31")  # under another address
    victim_session = bearer(sign_in(api, victim["user_id"], victim["password"]))
    guessed = api.client.post(
        "/v1/accounts/verify-email", json={"token": link, "password": victim["password"]}
    )
    signed_in = api.client.post(
        "/v1/accounts/verify-email", json={"token": link}, headers=victim_session
    )
    assert (guessed.status_code, guessed.json()["error"]["code"]) == (401, "invalid_password")
    assert signed_in.status_code == 403
    assert signed_in.json()["error"]["code"] == "link_for_other_account"
    assert api.container.shipments.shipment(awb).receiver_account is None
    assert _waiting(api) == 1, "the parcel still waits for the address's real owner"
    refused = sign_in(api, attacker["user_id"], attacker["password"])
    assert refused.json()["error"]["code"] == "email_not_verified"


def test_a_wrong_password_leaves_the_link_usable_and_the_right_one_links_parcels(
    api: Api,
) -> None:
    body = registration()
    awb = _parcel_waiting_for(api, body["email"])
    assert api.client.post("/v1/accounts", json=body).status_code == 202
    link = api.link(body["user_id"], tokens.Purpose.VERIFY_EMAIL)

    wrong = api.client.post(
        "/v1/accounts/verify-email", json={"token": link, "password": "not the password 1"}
    )
    right = api.client.post(
        "/v1/accounts/verify-email", json={"token": link, "password": body["password"]}
    )

    assert wrong.status_code == 401
    assert right.status_code == 200, right.text
    owner = api.account_id(body["user_id"])
    assert api.container.shipments.shipment(awb).receiver_account == owner
    bearer(sign_in(api, body["user_id"], body["password"]))


def test_guessing_the_password_on_a_link_is_throttled_like_a_sign_in(api: Api) -> None:
    body = registration()
    assert api.client.post("/v1/accounts", json=body).status_code == 202
    link = api.link(body["user_id"], tokens.Purpose.VERIFY_EMAIL)
    answers = [
        api.client.post(
            "/v1/accounts/verify-email", json={"token": link, "password": f"guess number {n}"}
        )
        for n in range(25)
    ]
    statuses = [answer.status_code for answer in answers]
    assert set(statuses) == {401, 429}, statuses
    locked = answers[-1]
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0


def test_an_email_change_is_confirmed_only_by_the_account_that_asked(api: Api) -> None:
    owner = verified(api)
    headers = bearer(sign_in(api, owner["user_id"], owner["password"]))
    other = verified(api, password="es teh manis dingin 42")
    other_session = bearer(sign_in(api, other["user_id"], other["password"]))
    new_email = f"baru-{uuid4().hex[:6]}@example.id"
    change_id = str(ask_for_email_change(api, owner, new_email, headers))
    link = api.link(owner["user_id"], tokens.Purpose.CONFIRM_EMAIL_CHANGE, change_id)
    confirm = "/v1/email-changes/confirm"

    clicked = api.client.post(confirm, json={"token": link})
    by_other = api.client.post(confirm, json={"token": link}, headers=other_session)
    forged = api.client.post(
        confirm, json={"token": link}, headers={"Authorization": "Bearer jls_not-a-session"}
    )
    wrong = api.client.post(confirm, json={"token": link, "password": other["password"]})
    right = api.client.post(confirm, json={"token": link, "password": owner["password"]})

    assert [a.status_code for a in (clicked, by_other, forged, wrong)] == [401, 403, 401, 401]
    assert forged.json()["error"]["code"] == "invalid_session"
    assert right.status_code == 200, right.text
    assert api.client.get("/v1/me", headers=headers).json()["email"] == new_email


def test_a_stranger_filling_the_accounts_bucket_cannot_stop_its_owner_confirming(
    api: Api,
) -> None:
    """Anyone who knows a user id can fail its sign-ins; the link is the owner's device."""
    owner = registration()
    assert api.client.post("/v1/accounts", json=owner).status_code == 202
    link = api.link(owner["user_id"], tokens.Purpose.VERIFY_EMAIL)
    for _ in range(12):
        sign_in(api, owner["user_id"], "wrong guess number 1")
    assert sign_in(api, owner["user_id"], "wrong guess number 1").status_code == 429

    confirmed = api.client.post(
        "/v1/accounts/verify-email", json={"token": link, "password": owner["password"]}
    )

    assert confirmed.status_code == 200, confirmed.text

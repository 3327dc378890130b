"""The pages the links in e-mails open, in-process: a form on GET that never uses the
link, the action on POST through the same commands as the API, readable error pages,
and headers that keep the token from leaving Jalur."""

from typing import Any
from uuid import uuid4

from infra.postgres import tokens
from tests.e2e.people import page_form
from tests.integration.test_accounts_api import (
    Api,
    api,
    ask_for_email_change,
    bearer,
    registration,
    sign_in,
    verified,
)

__all__ = ["api"]
CSP = (
    "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)


def _registered(api: Api) -> tuple[dict[str, Any], str]:
    body = registration()
    assert api.client.post("/v1/accounts", json=body).status_code == 202
    return body, api.link(body["user_id"], tokens.Purpose.VERIFY_EMAIL)


def _post(api: Api, path: str, fields: dict[str, str], **headers: str) -> Any:
    return api.client.post(path, data=fields, headers=headers)


def test_the_verification_page_is_a_plain_form_that_does_not_use_the_link(api: Api) -> None:
    body, link = _registered(api)

    shown = api.client.get("/verify-email", params={"token": link})
    again = api.client.get("/verify-email", params={"token": link})

    assert shown.status_code == again.status_code == 200
    assert shown.headers["content-type"].startswith("text/html")
    assert shown.headers["content-security-policy"] == CSP
    assert shown.headers["referrer-policy"] == "no-referrer"
    assert shown.headers["cache-control"] == "no-store"
    form = page_form(shown.text)
    assert (form.method, form.action) == ("post", "/verify-email")
    assert form.hidden == {"token": link}
    assert form.inputs == ["password"]
    assert "http" not in shown.text, "nothing on the page comes from or goes to elsewhere"
    style = api.client.get("/pages/jalur.css")
    assert style.status_code == 200
    assert style.headers["content-type"].startswith("text/css")
    refused = sign_in(api, body["user_id"], body["password"])
    assert refused.json()["error"]["code"] == "email_not_verified", "GET verified nothing"


def test_the_verification_page_needs_the_password_and_keeps_the_link_until_it_is_right(
    api: Api,
) -> None:
    body, link = _registered(api)

    wrong = _post(api, "/verify-email", {"token": link, "password": "not my password 12"})
    empty = _post(api, "/verify-email", {"token": link, "password": ""})
    right = _post(api, "/verify-email", {"token": link, "password": body["password"]})
    used = _post(api, "/verify-email", {"token": link, "password": body["password"]})

    assert wrong.status_code == 401
    assert "invalid_password" in wrong.text
    assert page_form(wrong.text).hidden == {"token": link}, "the form is offered again"
    assert (empty.status_code, "missing_field" in empty.text) == (422, True)
    assert right.status_code == 200, right.text
    assert right.headers["content-security-policy"] == CSP
    assert "<form" not in right.text
    assert (used.status_code, "invalid_token" in used.text) == (422, True)
    bearer(sign_in(api, body["user_id"], body["password"]))


def test_a_form_posted_from_another_site_is_refused_and_the_link_still_works(api: Api) -> None:
    body, link = _registered(api)
    fields = {"token": link, "password": body["password"]}

    from_elsewhere = _post(api, "/verify-email", fields, origin="https://jalur.example.com")
    cross_site = _post(api, "/verify-email", fields, **{"sec-fetch-site": "cross-site"})
    null_origin = _post(api, "/verify-email", fields, origin="null")
    own = _post(api, "/verify-email", fields, origin="http://testserver")

    for refused in (from_elsewhere, cross_site, null_origin):
        assert refused.status_code == 403
        assert "cross_origin_form" in refused.text
    assert own.status_code == 200, own.text


def test_a_link_without_its_token_and_a_form_that_is_not_a_form_get_readable_pages(
    api: Api,
) -> None:
    missing = api.client.get("/verify-email")
    cut = api.client.get("/reset-password", params={"token": "abc"})
    as_json = api.client.post("/verify-email", json={"token": "x" * 43, "password": "p"})

    assert (missing.status_code, "incomplete_link" in missing.text) == (400, True)
    assert (cut.status_code, "incomplete_link" in cut.text) == (400, True)
    assert (as_json.status_code, "unsupported_form" in as_json.text) == (415, True)
    assert missing.headers["content-type"].startswith("text/html")


def test_a_new_password_is_chosen_on_the_reset_page(api: Api) -> None:
    body = verified(api)
    old_session = bearer(sign_in(api, body["user_id"], body["password"]))
    assert api.client.post("/v1/password-resets", json={"user_id": body["user_id"]}).is_success
    link = api.link(body["user_id"], tokens.Purpose.RESET_PASSWORD)
    new = f"rendang padang {uuid4().hex[:6]}"

    assert page_form(api.client.get("/reset-password", params={"token": link}).text).inputs == [
        "new_password",
        "repeat_password",
    ]
    differ = _post(
        api, "/reset-password", {"token": link, "new_password": new, "repeat_password": new + "x"}
    )
    done = _post(
        api, "/reset-password", {"token": link, "new_password": new, "repeat_password": new}
    )

    assert (differ.status_code, "passwords_differ" in differ.text) == (422, True)
    assert done.status_code == 200, done.text
    assert api.client.get("/v1/me", headers=old_session).status_code == 401
    bearer(sign_in(api, body["user_id"], new))


def test_a_new_address_is_confirmed_on_its_page_with_the_password(api: Api) -> None:
    body = verified(api)
    headers = bearer(sign_in(api, body["user_id"], body["password"]))
    new_email = f"pindah-{uuid4().hex[:6]}@example.id"
    change_id = str(ask_for_email_change(api, body, new_email, headers))
    link = api.link(body["user_id"], tokens.Purpose.CONFIRM_EMAIL_CHANGE, change_id)

    done = _post(api, "/confirm-email", {"token": link, "password": body["password"]})

    assert done.status_code == 200, done.text
    assert api.client.get("/v1/me", headers=headers).json()["email"] == new_email


def test_the_cancel_page_from_the_old_address_cancels_the_change_with_one_button(
    api: Api,
) -> None:
    victim = verified(api)
    headers = bearer(sign_in(api, victim["user_id"], victim["password"]))
    change_id = str(ask_for_email_change(api, victim, f"x-{uuid4().hex[:8]}@ex.id", headers))
    link = api.link(victim["user_id"], tokens.Purpose.CANCEL_EMAIL_CHANGE, change_id)

    shown = api.client.get("/cancel-email-change", params={"token": link})
    form = page_form(shown.text)
    done = _post(api, form.action, form.hidden)

    assert shown.status_code == 200
    assert shown.headers["content-security-policy"] == CSP
    assert (form.hidden, form.inputs) == ({"token": link}, []), "a button, nothing to type"
    assert done.status_code == 200, done.text
    after = api.container.accounts.account(api.account_id(victim["user_id"]))
    assert after.pending_change is None
    assert api.client.get("/v1/me", headers=headers).status_code == 401, "sessions ended"

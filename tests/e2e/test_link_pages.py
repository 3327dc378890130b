"""The links in the real e-mails of a running `jalur up`, followed as a person with a
browser without script would: open the page, fill in its form, post it to its action.
Afterwards no log of the system holds any of the links' tokens."""

from uuid import uuid4

import httpx

from tests.e2e.conftest import System
from tests.e2e.people import follow_link, link_url, sign_in

CSP = (
    "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
followed: list[str] = []  # every link this module followed, for the log check at its end


def _follow(client: httpx.Client, system: System, address: str, kind: str, **values: str) -> str:
    url = link_url(system.state_dir, address, kind)
    assert url.startswith(f"{system.url}/{kind}?token="), url
    followed.append(url)
    shown = client.get(url)
    for header, value in {
        "content-security-policy": CSP,
        "referrer-policy": "no-referrer",
        "cache-control": "no-store",
        "x-frame-options": "DENY",
    }.items():
        assert shown.headers[header] == value, header
    done = follow_link(client, url, **values)
    assert done.status_code == 200, done.text
    assert "<form" not in done.text
    return done.text


def test_a_new_customer_verifies_by_the_page_then_resets_and_moves_address(system: System) -> None:
    user_id = f"putri-{uuid4().hex[:6]}"
    email, password = f"{user_id}@example.id", f"soto betawi {uuid4().hex[:8]}"
    registration = {
        "user_id": user_id,
        "email": email,
        "password": password,
        "display_name": "Putri Lestari",
        "phone": "081277778888",
    }
    with system.client() as client:
        assert client.post("/v1/accounts", json=registration).status_code == 202
        _follow(client, system, email, "verify-email", password=password)
        sign_in(client, user_id, password)

        assert client.post("/v1/password-resets", json={"user_id": user_id}).status_code == 202
        new_password = f"pempek palembang {uuid4().hex[:8]}"
        values = {"new_password": new_password, "repeat_password": new_password}
        _follow(client, system, email, "reset-password", **values)
        headers = sign_in(client, user_id, new_password)

        new_email = f"pindah-{uuid4().hex[:6]}@example.id"
        change = {"current_password": new_password, "new_email": new_email}
        assert client.post("/v1/me/email", json=change, headers=headers).status_code == 202
        _follow(client, system, new_email, "confirm-email", password=new_password)
        assert client.get("/v1/me", headers=headers).json()["email"] == new_email


def test_no_log_holds_a_token_of_a_followed_link(system: System) -> None:
    assert len(followed) == 3, "runs after the flows above"
    logs = [*system.state_dir.rglob("*.log"), *system.state_dir.rglob("log/*")]
    text = "\n".join(path.read_text(errors="replace") for path in logs if path.is_file())
    assert "GET /verify-email 200" in text, "the request log names the page"
    for url in followed:
        token = url.rpartition("token=")[2]
        assert token not in text

"""Accounts as customers meet them over HTTPS: links read from the e-mails `jalur up`
writes to its mailbox, and nothing personal or secret in any log."""

from uuid import uuid4

from tests.e2e.conftest import System
from tests.e2e.people import link_token, mails_to, sign_in, verified_customer
from tests.support import wait_until


def test_a_password_reset_arrives_by_email_and_ends_old_sessions(system: System) -> None:
    with system.client() as client:
        person = verified_customer(client, system.state_dir, "Dian")
        assert person.email is not None
        asked = client.post("/v1/password-resets", json={"user_id": person.user_id})
        unknown = client.post("/v1/password-resets", json={"user_id": f"x{uuid4().hex[:10]}"})
        assert (asked.status_code, asked.json()) == (unknown.status_code, unknown.json())
        token = link_token(system.state_dir, person.email, "reset-password")
        new_password = f"bakso malang urat {uuid4().hex[:6]}"
        reset = client.post(
            "/v1/password-resets/confirm", json={"token": token, "new_password": new_password}
        )
        assert reset.status_code == 200, reset.text
        assert client.get("/v1/me", headers=person.headers).status_code == 401
        assert (
            client.get("/v1/me", headers=sign_in(client, person.user_id, new_password)).json()[
                "email"
            ]
            == person.email
        )


def test_a_booking_by_a_customer_is_mailed_to_them(system: System) -> None:
    with system.client() as client:
        person = verified_customer(client, system.state_dir, "Eka")
        assert person.email is not None
        shipment = {
            "service": "REG",
            "shipper": {
                "name": "Eka Putri",
                "phone": person.phone,
                "address": "Jl. Sudirman 3",
                "area": "CGK10110",
                "email": person.email,
            },
            "receiver": {
                "name": "Fajar Nugroho",
                "phone": "081355556666",
                "address": "Jl. Pahlawan 9",
                "area": "SUB60111",
            },
            "parcel": {
                "weight_grams": 800,
                "length_cm": 10,
                "width_cm": 10,
                "height_cm": 10,
                "declared_value": 90000,
            },
        }
        booked = client.post("/v1/shipments", json=shipment, headers=person.headers)
        assert booked.status_code == 201, booked.text
        awb = booked.json()["awb"]
    assert wait_until(
        lambda: any(awb in str(m) for m in mails_to(system.state_dir, person.email or "")), 60
    )


def test_no_password_token_or_account_detail_reaches_any_log(system: System) -> None:
    with system.client() as client:
        person = verified_customer(client, system.state_dir, "Gita")
        client.post("/v1/sessions", json={"user_id": person.user_id, "password": "wrong guess x"})
        token = person.headers["Authorization"].split()[1]
        client.get("/v1/me", headers=person.headers)
    logs = [*system.state_dir.rglob("*.log"), *system.state_dir.rglob("log/*")]
    text = "\n".join(path.read_text(errors="replace") for path in logs if path.is_file())
    assert "POST /v1/sessions 201" in text
    assert person.email is not None
    for value in (person.password, person.user_id, person.email, person.phone, token, "$argon2"):
        assert value not in text
    assert person.display_name not in text

"""A valid request for every operation of the authorisation matrix, written per caller.

Each request, if let in, does its work for real (a booking, a scan with a fresh scan_id at
the scanner's hub, a password change with the caller's own password), so a 2xx means the
operation ran and a 401, 403 or 404 can only come from the access rules, never from
validation. Operations that end something (a password, a session, an account) get a person
made for that one call, so the shared cast keeps working for the rest of the matrix."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import httpx
import pyotp

from tests.authenticator import enrol
from tests.e2e.conftest import System
from tests.e2e.people import (
    AUTHENTICATORS,
    Person,
    create_staff,
    link_token,
    registered_customer,
    staff,
    verified_customer,
)

HUB = "CGK10000"  # where the device key of `tests/e2e/conftest.py` belongs
PICKUP = "CGK10110"  # the shipper's area, where a courier picks a parcel up
STAFF = ("courier", "hub_operator", "auditor", "admin")
HUBS = {"courier": HUB, "hub_operator": HUB}  # couriers and hub operators belong to one
NO_ACCOUNT_PASSWORD = "bukan kata sandi siapa pun"  # well formed, belongs to nobody


@dataclass(frozen=True)
class Call:
    headers: dict[str, str]
    json: Any = None
    params: dict[str, str] | None = None
    awb: str | None = None  # the shipment in the path, if not the owner's


@dataclass
class Scene:
    """The shared cast: one person per kind of caller, the owner's shipment and personal
    data, a bystander whose account the public flows may use, and people used once."""

    system: System
    client: httpx.Client
    cast: dict[str, Person]
    awb: str
    owner_data: dict[str, str]
    bystander: Person

    def caller(self, kind: str) -> Person:
        return self.cast[kind]

    def fresh(self, kind: str) -> Person:
        """A person of this kind used for one call only: no account means the shared one."""
        if kind in {"owner", "other"}:
            return verified_customer(self.client, self.system.state_dir, "Eka")
        if kind in STAFF:
            system = self.system
            return staff(self.client, system.database_url, system.state_dir, kind, HUBS.get(kind))
        return self.cast[kind]


Writer = Callable[[Scene, str], Call]


def parcel(shipper_name: str = "Toko Sinar Jaya", **shipper: str) -> dict[str, Any]:
    """A booking from Jakarta to Surabaya."""
    return {
        "service": "REG",
        "shipper": {
            "name": shipper_name,
            "phone": "081311112222",
            "address": "Jl. Pintu Besar Selatan 3",
            "area": PICKUP,
            **shipper,
        },
        "receiver": {
            "name": "Gede Pratama",
            "phone": "081333334444",
            "address": "Jl. Tunjungan 12",
            "area": "SUB60111",
        },
        "parcel": {
            "weight_grams": 1800,
            "length_cm": 25,
            "width_cm": 20,
            "height_cm": 10,
            "declared_value": 250_000,
        },
    }


def _plain(scene: Scene, kind: str) -> Call:
    return Call(scene.caller(kind).headers)


def _sign_in(scene: Scene, kind: str) -> Call:
    who = scene.bystander
    return Call(scene.caller(kind).headers, {"user_id": who.user_id, "password": who.password})


def _register(scene: Scene, kind: str) -> Call:
    user_id = f"newcomer-{uuid4().hex[:8]}"
    body = {
        "user_id": user_id,
        "email": f"{user_id}@example.id",
        "password": f"nasi uduk betawi {uuid4().hex[:6]}",
        "display_name": "Newcomer",
        "phone": "081255556666",
    }
    return Call(scene.caller(kind).headers, body)


def _verify_email(scene: Scene, kind: str) -> Call:
    newcomer = registered_customer(scene.client, "Fajar")
    token = link_token(scene.system.state_dir, newcomer.email or "", "verify-email")
    return Call(scene.caller(kind).headers, {"token": token, "password": newcomer.password})


def _request_reset(scene: Scene, kind: str) -> Call:
    # Each account asks for itself, as a person who forgot their password would.
    own = scene.caller(kind)
    who = own if own.user_id else scene.bystander
    return Call(own.headers, {"user_id": who.user_id})


def _confirm_reset(scene: Scene, kind: str) -> Call:
    forgetful = verified_customer(scene.client, scene.system.state_dir, "Gita")
    asked = scene.client.post("/v1/password-resets", json={"user_id": forgetful.user_id})
    assert asked.status_code == 202, asked.text
    token = link_token(scene.system.state_dir, forgetful.email or "", "reset-password")
    body = {"token": token, "new_password": f"soto betawi hangat {uuid4().hex[:6]}"}
    return Call(scene.caller(kind).headers, body)


def _confirm_email_change(scene: Scene, kind: str) -> Call:
    moving = verified_customer(scene.client, scene.system.state_dir, "Hadi")
    new_email = f"moved-{uuid4().hex[:8]}@example.id"
    body = {"current_password": moving.password, "new_email": new_email}
    asked = scene.client.post("/v1/me/email", json=body, headers=moving.headers)
    assert asked.status_code == 202, asked.text
    token = link_token(scene.system.state_dir, new_email, "confirm-email")
    return Call(scene.caller(kind).headers, {"token": token, "password": moving.password})


def _cancel_email_change(scene: Scene, kind: str) -> Call:
    moved = verified_customer(scene.client, scene.system.state_dir, "Joko")
    body = {"current_password": moved.password, "new_email": f"away-{uuid4().hex[:8]}@example.id"}
    asked = scene.client.post("/v1/me/email", json=body, headers=moved.headers)
    assert asked.status_code == 202, asked.text
    token = link_token(scene.system.state_dir, moved.email or "", "cancel-email-change")
    return Call(scene.caller(kind).headers, {"token": token})


def _change_password(scene: Scene, kind: str) -> Call:
    who = scene.fresh(kind)
    new = f"es cendol durian {uuid4().hex[:6]}"
    return Call(who.headers, {"current_password": who.password, "new_password": new})


def _change_email(scene: Scene, kind: str) -> Call:
    who = scene.caller(kind)
    body = {"current_password": who.password, "new_email": f"new-{uuid4().hex[:8]}@example.id"}
    return Call(who.headers, body)


def _erase(scene: Scene, kind: str) -> Call:
    who = scene.fresh(kind)
    return Call(who.headers, {"password": who.password})


def _sign_out(scene: Scene, kind: str) -> Call:
    return Call(scene.fresh(kind).headers)


def _book(scene: Scene, kind: str) -> Call:
    return Call(scene.caller(kind).headers, parcel())


def _scan_body(kind: str) -> dict[str, str]:
    """A courier picks the parcel up at the shipper's; a hub (operator or device) receives
    it at its own hub. Everyone else is given the hub's scan."""
    code, location = ("PU1", PICKUP) if kind == "courier" else ("OP1", HUB)
    now = datetime.now(UTC).isoformat()
    return {"scan_id": str(uuid4()), "code": code, "scanned_at": now, "location": location}


def _new_parcel(scene: Scene) -> str:
    """A parcel booked at the counter, so every scan is the first one of its parcel."""
    booked = scene.client.post("/v1/shipments", json=parcel(), headers=scene.cast["device"].headers)
    assert booked.status_code == 201, booked.text
    awb: str = booked.json()["awb"]
    return awb


def _scan(scene: Scene, kind: str) -> Call:
    return Call(scene.caller(kind).headers, _scan_body(kind), awb=_new_parcel(scene))


def _scan_batch(scene: Scene, kind: str) -> Call:
    scans = [_scan_body(kind) | {"awb": _new_parcel(scene)}]
    return Call(scene.caller(kind).headers, {"scans": scans})


def _publish_policy(scene: Scene, kind: str) -> Call:
    text = f"# Kebijakan privasi\n\nRevisi {uuid4().hex[:6]}: data disimpan di Indonesia."
    return Call(scene.caller(kind).headers, {"text": text})


def _track_many(scene: Scene, kind: str) -> Call:
    return Call(scene.caller(kind).headers, params={"awb": scene.awb})


def _without_second_factor(scene: Scene, kind: str) -> Person:
    """A person of this kind signed in with a password only: staff who have not enrolled
    yet (their session may only enrol), or a customer who never turned it on. Callers with
    no account get a customer, whose enrolment they then try to use."""
    if kind not in STAFF:
        return verified_customer(scene.client, scene.system.state_dir, "Indah")
    user_id, password = f"{kind.replace('_', '-')}-{uuid4().hex[:6]}", f"es teler {uuid4().hex[:8]}"
    system = scene.system
    create_staff(system.database_url, system.state_dir, kind, user_id, password, HUBS.get(kind))
    answer = scene.client.post("/v1/sessions", json={"user_id": user_id, "password": password})
    assert answer.status_code == 201, answer.text
    return Person(user_id, password, None, {"Authorization": f"Bearer {answer.json()['token']}"})


def _has_account(kind: str) -> bool:
    return kind not in {"anonymous", "device"}


def _start_mfa(scene: Scene, kind: str) -> Call:
    who = _without_second_factor(scene, kind) if _has_account(kind) else scene.caller(kind)
    return Call(who.headers)


def _confirm_mfa(scene: Scene, kind: str) -> Call:
    who = _without_second_factor(scene, kind)
    started = scene.client.post("/v1/me/mfa", headers=who.headers)
    assert started.status_code == 201, started.text
    code = pyotp.TOTP(started.json()["secret"]).now()
    headers = who.headers if _has_account(kind) else scene.caller(kind).headers
    return Call(headers, {"one_time_code": code, "current_password": who.password})


def _disable_mfa(scene: Scene, kind: str) -> Call:
    """Customers may turn their second factor off; staff (who must keep it) and callers with
    no account send the same well-formed request."""
    if kind in STAFF:
        who = scene.fresh(kind)
        code = AUTHENTICATORS[who.user_id].code()
    elif kind in {"owner", "other"}:
        who = scene.fresh(kind)
        code = enrol(scene.client, who.headers, who.password).code()
    else:
        who, code = scene.caller(kind), "123456"
    return Call(who.headers, {"password": who.password, "one_time_code": code})


REQUESTS: dict[tuple[str, str], Writer] = {
    ("GET", "/healthz"): _plain,
    ("POST", "/v1/accounts"): _register,
    ("POST", "/v1/accounts/verify-email"): _verify_email,
    ("POST", "/v1/password-resets"): _request_reset,
    ("POST", "/v1/password-resets/confirm"): _confirm_reset,
    ("POST", "/v1/email-changes/confirm"): _confirm_email_change,
    ("POST", "/v1/email-changes/cancel"): _cancel_email_change,
    ("POST", "/v1/sessions"): _sign_in,
    ("DELETE", "/v1/sessions/current"): _sign_out,
    ("GET", "/v1/me"): _plain,
    ("POST", "/v1/me/password"): _change_password,
    ("POST", "/v1/me/email"): _change_email,
    ("DELETE", "/v1/me"): _erase,
    ("GET", "/v1/me/shipments"): _plain,
    ("GET", "/v1/me/shipments/{awb}"): _plain,
    ("GET", "/v1/me/export"): _plain,
    ("POST", "/v1/shipments"): _book,
    ("POST", "/v1/shipments/{awb}/scans"): _scan,
    ("POST", "/v1/scans"): _scan_batch,
    ("GET", "/v1/track/{awb}"): _plain,
    ("GET", "/v1/track"): _track_many,
    ("GET", "/v1/privacy-policy"): _plain,
    ("PUT", "/v1/privacy-policy"): _publish_policy,
    ("GET", "/v1/audit/totals"): _plain,
    ("GET", "/v1/exceptions"): _plain,
    ("GET", "/v1/me/sessions"): _plain,
    ("DELETE", "/v1/me/sessions"): _sign_out,
    ("POST", "/v1/me/mfa"): _start_mfa,
    ("POST", "/v1/me/mfa/confirm"): _confirm_mfa,
    ("DELETE", "/v1/me/mfa"): _disable_mfa,
}

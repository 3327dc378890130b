"""The authorisation matrix: every route in the served OpenAPI document, tried by every
role, by a second customer and by nobody, against the first customer's resources.

A route that declares no access rule fails here; so does one that lets the wrong people
in, or that shows anyone the first customer's personal data."""

import json
from typing import Any

import httpx
import pytest

from api.access import ANONYMOUS, DEVICE, RULES
from tests.e2e.conftest import System, banner_value
from tests.e2e.people import Person, sign_in, staff, verified_customer
from tests.e2e.test_system import booking

STAFF = ("courier", "hub_operator", "auditor")
ADMIN_PASSWORD = "rendang padang pedas 2026"


@pytest.fixture(scope="module")
def cast(system: System) -> dict[str, Any]:
    """Customer A with a shipment, customer B, one person of each staff role, a device."""
    with system.client() as client:
        first = verified_customer(client, system.state_dir, "Ayu")
        second = verified_customer(client, system.state_dir, "Bayu")
        shipment = booking()
        shipment["shipper"] |= {"name": "Ayu Wijaya Kusuma", "email": first.email}
        booked = client.post("/v1/shipments", json=shipment, headers=first.headers)
        assert booked.status_code == 201, booked.text
        projected = client.get(  # the matrix must meet the shipment, not a read model behind
            f"/v1/me/shipments/{booked.json()['awb']}",
            params={"consistency_token": booked.json()["consistency_token"]},
            headers=first.headers,
        )
        assert projected.status_code == 200, projected.text
        people: dict[str, dict[str, str]] = {
            ANONYMOUS: {},
            DEVICE: {"X-API-Key": system.api_key},
            "customer": second.headers,
            "admin": _admin(client, system),
        }
        for role in STAFF:
            people[role] = staff(client, system.database_url, system.state_dir, role).headers
        return {
            "first": first,
            "awb": booked.json()["awb"],
            "people": people,
            "secrets": _personal(first, shipment),
        }


def _admin(client: httpx.Client, system: System) -> dict[str, str]:
    """The first admin, made by `jalur up`, after changing its one-time password."""
    one_time = banner_value(system.state_dir / "up.log", "password")
    headers = sign_in(client, "admin", one_time)
    changed = client.post(
        "/v1/me/password",
        json={"current_password": one_time, "new_password": ADMIN_PASSWORD},
        headers=headers,
    )
    assert changed.status_code == 200, changed.text
    return {"Authorization": f"Bearer {changed.json()['token']}"}


def _personal(person: Person, shipment: dict[str, Any]) -> list[str]:
    shipper = shipment["shipper"]
    assert person.email is not None
    return [
        person.user_id,
        person.email,
        person.display_name,
        shipper["name"],
        shipper["phone"],
        shipper["address"],
        shipment["receiver"]["name"],
        shipment["receiver"]["address"],
    ]


def _operations(client: httpx.Client) -> list[tuple[str, str, dict[str, Any]]]:
    spec = client.get("/openapi.json").json()
    operations = [
        (method.upper(), path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]
    # Signing out ends the session the other calls use, so it goes last.
    return sorted(operations, key=lambda op: op[:2] == ("DELETE", "/v1/sessions/current"))


def test_every_route_declares_an_access_rule(system: System) -> None:
    with system.client() as client:
        operations = _operations(client)
    assert len(operations) >= 15
    undeclared = [(m, p) for m, p, op in operations if op.get("x-access") not in RULES]
    assert not undeclared, f"routes without an access rule: {undeclared}"


def test_no_one_but_the_owner_reaches_the_owners_data(system: System, cast: dict[str, Any]) -> None:
    failures: list[str] = []
    with system.client() as client:
        for method, path, operation in _operations(client):
            if (method, path) == ("DELETE", "/v1/me/sessions"):
                continue  # would end the sessions the sign-out after it uses: see test_mfa.py
            rule = operation["x-access"]
            url = path.replace("{awb}", cast["awb"])
            for kind, headers in cast["people"].items():
                answer = _call(client, method, url, headers, operation)
                failures += _judge(method, path, rule, kind, answer, cast["secrets"])
    assert not failures, "\n".join(failures)


def test_the_owner_sees_their_own_shipment_in_full(system: System, cast: dict[str, Any]) -> None:
    with system.client() as client:
        first: Person = cast["first"]
        own = client.get(f"/v1/me/shipments/{cast['awb']}", headers=first.headers)
    assert own.status_code == 200, own.text
    assert "Ayu Wijaya Kusuma" in own.text


def _call(
    client: httpx.Client, method: str, url: str, headers: dict[str, str], operation: dict[str, Any]
) -> httpx.Response:
    has_body = "requestBody" in operation
    # An empty object: enough to reach the access check, never enough to change anything.
    content = json.dumps({}) if has_body else None
    extra = {"Content-Type": "application/json"} if has_body else {}
    query = {"awb": url.rsplit("/", 1)[-1]} if url.endswith("/v1/track") else None
    return client.request(
        method, url, headers=headers | extra, content=content, params=query, follow_redirects=False
    )


def _judge(
    method: str, path: str, rule: str, kind: str, answer: httpx.Response, secrets: list[str]
) -> list[str]:
    where = f"{method} {path} as {kind}: {answer.status_code}"
    failures = [f"{where} leaks {s!r}" for s in secrets if s in answer.text]
    if answer.status_code >= 500:
        failures.append(f"{where} is a server error")
    allowed = kind in RULES[rule]
    if not allowed:
        expected = {401} if kind == ANONYMOUS else {403, 404}
        if answer.status_code not in expected:
            failures.append(f"{where}, expected one of {sorted(expected)}")
    elif answer.status_code in {401, 403}:
        failures.append(f"{where}, but the rule {rule!r} lets {kind} in")
    elif "{awb}" in path and path.startswith("/v1/me/") and answer.status_code != 404:
        failures.append(f"{where}: another customer's shipment must be 404")
    return failures


def test_an_admin_publishes_a_new_privacy_policy_version(
    system: System, cast: dict[str, Any]
) -> None:
    with system.client() as client:
        before = client.get("/v1/privacy-policy").json()
        text = before["text"] + "\n\nRevised: data is kept in Indonesia."
        admin = sign_in(client, "admin", ADMIN_PASSWORD)  # the matrix signed everyone out
        published = client.put("/v1/privacy-policy", json={"text": text}, headers=admin)
        assert published.status_code == 200, published.text
        after = client.get(
            "/v1/privacy-policy",
            params={"consistency_token": published.json()["consistency_token"]},
        ).json()
    assert after["version"] == before["version"] + 1
    assert after["text"] == text

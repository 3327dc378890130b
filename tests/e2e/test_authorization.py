"""The authorisation matrix: every served operation, called with a valid request by every
kind of caller, compared with a table of expected answers written here by hand.

The table is the specification, not a copy of `api/access.py`: a wrong rule there fails
here. A served operation without a row fails, and so does a row for an operation no longer
served. To add an operation: add its row to EXPECTED and a request writer for it to
`authorization_calls.REQUESTS`."""

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple
from uuid import uuid4

import httpx
import pytest

from tests.e2e.authorization_calls import (
    HUBS,
    NO_ACCOUNT_PASSWORD,
    REQUESTS,
    Call,
    Scene,
    parcel,
)
from tests.e2e.conftest import System, banner_value
from tests.e2e.people import Person, sign_in, staff, verified_customer

OK = "ok"  # any 2xx: the operation ran


class Row(NamedTuple):
    """What each kind of caller gets. `owner` is the customer whose shipment the path
    names (or, without one, the customer acting on their own account); `other` is another
    customer; staff are signed in with their role; `device` sends a hub's device key.
    Each cell is OK (any 2xx) or the one status expected: 401, 403, or 404 where the path
    names someone else's shipment. Never 422: every request is valid."""

    anonymous: int | str
    device: int | str
    owner: int | str
    other: int | str
    courier: int | str
    hub_operator: int | str
    auditor: int | str
    admin: int | str


# fmt: off
EXPECTED: dict[tuple[str, str], Row] = {
    #                                         anon dev  own  oth  cour hub  aud  admin
    ("GET", "/healthz"):                      Row(OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK),
    ("POST", "/v1/accounts"):                 Row(OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK),
    ("POST", "/v1/accounts/verify-email"):    Row(OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK),
    ("POST", "/v1/password-resets"):          Row(OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK),
    ("POST", "/v1/password-resets/confirm"):  Row(OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK),
    ("POST", "/v1/email-changes/confirm"):    Row(OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK),
    ("POST", "/v1/email-changes/cancel"):     Row(OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK),
    ("POST", "/v1/sessions"):                 Row(OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK),
    ("DELETE", "/v1/sessions/current"):       Row(401, 403, OK,  OK,  OK,  OK,  OK,  OK),
    ("GET", "/v1/me"):                        Row(401, 403, OK,  OK,  OK,  OK,  OK,  OK),
    ("POST", "/v1/me/password"):              Row(401, 403, OK,  OK,  OK,  OK,  OK,  OK),
    ("POST", "/v1/me/email"):                 Row(401, 403, OK,  OK,  403, 403, 403, 403),
    ("DELETE", "/v1/me"):                     Row(401, 403, OK,  OK,  403, 403, 403, 403),
    ("GET", "/v1/me/shipments"):              Row(401, 403, OK,  OK,  403, 403, 403, 403),
    ("GET", "/v1/me/shipments/{awb}"):        Row(401, 403, OK,  404, 403, 403, 403, 403),
    ("GET", "/v1/me/export"):                 Row(401, 403, OK,  OK,  403, 403, 403, 403),
    ("POST", "/v1/shipments"):                Row(401, OK,  OK,  OK,  403, 403, 403, 403),
    ("POST", "/v1/shipments/{awb}/scans"):    Row(401, OK,  403, 403, OK,  OK,  403, 403),
    ("POST", "/v1/scans"):                    Row(401, OK,  403, 403, OK,  OK,  403, 403),
    ("GET", "/v1/track/{awb}"):               Row(OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK),
    ("GET", "/v1/track"):                     Row(OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK),
    ("GET", "/v1/privacy-policy"):            Row(OK,  OK,  OK,  OK,  OK,  OK,  OK,  OK),
    ("PUT", "/v1/privacy-policy"):            Row(401, 403, 403, 403, 403, 403, 403, OK),
    ("GET", "/v1/audit/totals"):              Row(401, 403, 403, 403, 403, 403, OK,  403),
    ("GET", "/v1/exceptions"):                Row(401, 403, 403, 403, 403, OK,  OK,  OK),
    ("GET", "/v1/me/sessions"):               Row(401, 403, OK,  OK,  OK,  OK,  OK,  OK),
    ("DELETE", "/v1/me/sessions"):            Row(401, 403, OK,  OK,  OK,  OK,  OK,  OK),
    ("POST", "/v1/me/mfa"):                   Row(401, 403, OK,  OK,  OK,  OK,  OK,  OK),
    ("POST", "/v1/me/mfa/confirm"):           Row(401, 403, OK,  OK,  OK,  OK,  OK,  OK),
    ("DELETE", "/v1/me/mfa"):                 Row(401, 403, OK,  OK,  403, 403, 403, 403),
}
# fmt: on

# Where the owner must find their own data (names of `Scene.owner_data`), in full.
OWNER_SEES: dict[tuple[str, str], tuple[str, ...]] = {
    ("GET", "/v1/me"): ("email", "display_name"),
    ("GET", "/v1/me/shipments"): ("shipper_name", "receiver_name"),
    ("GET", "/v1/me/shipments/{awb}"): ("shipper_name", "shipper_phone", "receiver_address"),
    ("GET", "/v1/me/export"): ("email", "shipper_address", "receiver_name"),
}
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
ADMIN_PASSWORD = "rendang padang pedas 2026"


@pytest.fixture(scope="module")
def scene(system: System) -> Iterator[Scene]:
    """The owner with a shipment, another customer, a bystander, one person of each
    staff role, the first admin and a device: made once for the whole module."""
    with system.client() as client:
        owner = verified_customer(client, system.state_dir, "Ayu")
        awb, owner_data = _owners_shipment(client, owner)
        cast = {
            "anonymous": Person("", NO_ACCOUNT_PASSWORD, None, {}),
            "device": Person("", NO_ACCOUNT_PASSWORD, None, {"X-API-Key": system.api_key}),
            "owner": owner,
            "other": verified_customer(client, system.state_dir, "Bayu"),
            "admin": first_admin(client, system),
        }
        for role in ("courier", "hub_operator", "auditor"):
            hub = HUBS.get(role)
            cast[role] = staff(client, system.database_url, system.state_dir, role, hub)
        bystander = verified_customer(client, system.state_dir, "Citra")
        yield Scene(system, client, cast, awb, owner_data, bystander)


def _owners_shipment(client: httpx.Client, owner: Person) -> tuple[str, dict[str, str]]:
    """The owner books a parcel whose personal data is theirs alone (no other booking in
    the run has it), and waits until their own list shows it."""
    tag = uuid4().hex[:6]
    data = {
        "shipper_name": f"Ayu Larasati {tag}",
        "shipper_phone": f"0813{uuid4().int % 10**8:08d}",
        "shipper_address": f"Jl. Cempaka Putih {tag} No. 7",
        "receiver_name": f"Wayan Sudirta {tag}",
        "receiver_address": f"Jl. Raya Darmo {tag} No. 9",
    }
    booking = parcel(data["shipper_name"], phone=data["shipper_phone"])
    booking["shipper"] |= {"address": data["shipper_address"], "email": owner.email}
    booking["receiver"] |= {"name": data["receiver_name"], "address": data["receiver_address"]}
    booked = client.post("/v1/shipments", json=booking, headers=owner.headers)
    assert booked.status_code == 201, booked.text
    awb: str = booked.json()["awb"]
    projected = client.get(  # the matrix must meet the shipment, not a read model behind
        f"/v1/me/shipments/{awb}",
        params={"consistency_token": booked.json()["consistency_token"]},
        headers=owner.headers,
    )
    assert projected.status_code == 200, projected.text
    assert owner.email is not None
    data |= {"user_id": owner.user_id, "email": owner.email, "display_name": owner.display_name}
    return awb, data


def first_admin(client: httpx.Client, system: System) -> Person:
    """The first admin, made by `jalur up`, after changing its one-time password."""
    one_time = banner_value(system.state_dir / "up.log", "password")
    headers = sign_in(client, "admin", one_time)
    changed = client.post(
        "/v1/me/password",
        json={"current_password": one_time, "new_password": ADMIN_PASSWORD},
        headers=headers,
    )
    assert changed.status_code == 200, changed.text
    token = {"Authorization": f"Bearer {changed.json()['token']}"}
    return Person("admin", ADMIN_PASSWORD, None, token)


def test_the_table_has_a_row_for_every_served_operation_and_no_other(system: System) -> None:
    with system.client() as client:
        spec = client.get("/openapi.json").json()
    served = {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }
    missing, stale = sorted(served - EXPECTED.keys()), sorted(EXPECTED.keys() - served)
    assert not missing, f"served, but no row in EXPECTED: {missing}"
    assert not stale, f"rows in EXPECTED for operations not served: {stale}"
    assert EXPECTED.keys() == REQUESTS.keys(), "every row needs a request writer, and only rows"


def test_every_caller_gets_the_answer_the_table_expects(scene: Scene) -> None:
    cases = [
        (op, kind, expected)
        for op, row in EXPECTED.items()
        for kind, expected in row._asdict().items()
    ]
    # Writing a request mostly waits (for an e-mail, a sign-in's minimum time, the CLI), so
    # the requests are written side by side; they are sent one at a time, in table order.
    with ThreadPoolExecutor(max_workers=6) as pool:
        calls = list(pool.map(lambda case: REQUESTS[case[0]](scene, case[1]), cases))
    failures: list[str] = []
    for (operation, kind, expected), call in zip(cases, calls, strict=True):
        answer = _send(scene, operation, call)
        failures += _judge(scene, operation, kind, expected, answer)
    if failures:
        pytest.fail("\n".join(failures), pytrace=False)


def _send(scene: Scene, operation: tuple[str, str], call: Call) -> httpx.Response:
    method, path = operation
    url = path.replace("{awb}", call.awb or scene.awb)
    return scene.client.request(
        method, url, headers=call.headers, json=call.json, params=call.params
    )


def _judge(
    scene: Scene, operation: tuple[str, str], kind: str, expected: int | str, answer: httpx.Response
) -> list[str]:
    where = f"{' '.join(operation)} as {kind}: expected {expected}, got {answer.status_code}"
    failures = []
    wrong = not answer.is_success if expected == OK else answer.status_code != expected
    if wrong:
        failures.append(f"{where} {answer.text[:300]}")
    if kind != "owner":
        leaked = [name for name, value in scene.owner_data.items() if value in answer.text]
        failures += [f"{where}, and it shows the owner's {name}" for name in leaked]
    else:
        missing = [
            n for n in OWNER_SEES.get(operation, ()) if scene.owner_data[n] not in answer.text
        ]
        failures += [f"{where}, and the owner does not see their own {n}" for n in missing]
    return failures


def test_an_admin_publishes_a_new_privacy_policy_version(scene: Scene) -> None:
    before = _publish(scene, "# Kebijakan privasi\n\nData is kept in Indonesia.")
    text = before["text"] + "\n\nRevised: and never sold."
    after = _publish(scene, text)
    assert after["version"] == before["version"] + 1
    assert after["text"] == text


def _publish(scene: Scene, text: str) -> dict[str, Any]:
    """Publish as the admin, and read the policy in force once the read model has it."""
    admin = scene.cast["admin"]
    published = scene.client.put("/v1/privacy-policy", json={"text": text}, headers=admin.headers)
    assert published.status_code == 200, published.text
    token = published.json()["consistency_token"]
    policy: dict[str, Any] = scene.client.get(
        "/v1/privacy-policy", params={"consistency_token": token}
    ).json()
    return policy

"""The HTTP API in-process against the real database and broker: commands, public
tracking, read-your-writes, and bad input that changes nothing."""

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from commands.accounts.staff import create_staff
from commands.container import Container
from consumers.registry import projection
from consumers.runner import ProjectionRunner
from domain.accounts import Role
from domain.shipments import data_subject
from domain.waybill import waybill_for
from infra.messaging.partitioning import token_for
from infra.messaging.relay import Relay
from infra.postgres.device_keys import create_key, revoke_key
from infra.runtime.bootstrap import bootstrap
from infra.settings import Settings
from tests.support import BOOKED_AT, Threads, booking, database_snapshot, run_at_once, wait_until


@dataclass
class Api:
    client: TestClient
    headers: dict[str, str]  # a hub device of SUB60111, where scan_body scans
    container: Container
    key_id: str
    courier: dict[str, str]  # the phone of a courier of hub SUB60000 (domain/custody.py)

    def stored_events(self) -> int:
        return self.container.shipments.recorder.max_notification_id() or 0


@pytest.fixture
def api(settings: Settings) -> Iterator[Api]:
    container = bootstrap(settings)
    courier = create_staff(
        container.identity,
        Role.COURIER,
        f"courier-{uuid4().hex[:8]}",
        "a courier's long passphrase",
        datetime.now(UTC),
        hub="SUB60000",
    )
    with psycopg.connect(settings.require_database_url(), autocommit=True) as conn:
        key_id, secret = create_key(conn, "SUB60111", "test scanner")
        _, phone = create_key(conn, "SUB60000", "courier's phone", courier)
    stop = threading.Event()
    workers = Threads()  # a relay or runner that dies fails the test at teardown
    workers.start(Relay(container.shipments, settings).run, stop)
    workers.start(ProjectionRunner(projection("tracking"), settings).run, stop)
    try:
        with TestClient(create_app(container)) as client:
            yield Api(client, {"X-API-Key": secret}, container, key_id, {"X-API-Key": phone})
    finally:
        stop.set()
        workers.join(timeout=30)
        container.close()


def booking_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "service": "REG",
        "shipper": {
            "name": "Budi Santoso",
            "phone": "081234567890",
            "address": "Jl. Merdeka 17",
            "area": "CGK10110",
            "email": "budi.santoso@example.id",
        },
        "receiver": {
            "name": "Siti Aminah",
            "phone": "081298765432",
            "address": "Jl. Pemuda 9",
            "area": "SUB60111",
        },
        "parcel": {
            "weight_grams": 1200,
            "length_cm": 20,
            "width_cm": 15,
            "height_cm": 10,
            "declared_value": 250000,
        },
        "cod_amount": 75000,
    }
    body.update(changes)
    return body


def scan_body(code: str, seconds_ago: int, **extra: Any) -> dict[str, Any]:
    """A scan timed just before now: within the 5 minutes of clock skew allowed around a booking."""
    at = datetime.now(UTC) - timedelta(seconds=seconds_ago)
    return {
        "scan_id": str(uuid4()),
        "code": code,
        "scanned_at": at.isoformat(),
        "location": "SUB60111",
        **extra,
    }


def book(api: Api) -> str:
    response = api.client.post("/v1/shipments", json=booking_body(), headers=api.headers)
    assert response.status_code == 201, response.text
    awb: str = response.json()["awb"]
    return awb


def test_a_booking_is_tracked_publicly_with_names_masked_and_cities_only(api: Api) -> None:
    booked = api.client.post("/v1/shipments", json=booking_body(), headers=api.headers).json()
    scan = api.client.post(
        f"/v1/shipments/{booked['awb']}/scans", json=scan_body("PU1", 30), headers=api.headers
    ).json()

    response = api.client.get(
        f"/v1/track/{booked['awb']}", params={"consistency_token": scan["consistency_token"]}
    )

    assert response.status_code == 200
    tracked = response.json()
    assert tracked["status"] == "picked_up"
    assert (tracked["origin_city"], tracked["destination_city"]) == ("JAKARTA", "SURABAYA")
    assert (tracked["shipper_name"], tracked["receiver_name"]) == ("B*** S***", "S*** A***")
    for secret in ("Budi", "Santoso", "Aminah", "0812", "Merdeka", "Pemuda", "10110", "60111"):
        assert secret not in response.text
    assert "example.id" not in response.text


def test_public_tracking_shows_null_names_once_the_parties_are_erased(api: Api) -> None:
    booked = api.client.post("/v1/shipments", json=booking_body(), headers=api.headers).json()
    shipment_id = api.container.shipments.shipment(booked["awb"]).id

    for role in ("shipper", "receiver"):
        api.container.keyring.destroy(data_subject(shipment_id, role))

    tracked = api.client.get(
        f"/v1/track/{booked['awb']}", params={"consistency_token": booked["consistency_token"]}
    ).json()
    assert (tracked["shipper_name"], tracked["receiver_name"]) == (None, None)
    assert (tracked["status"], tracked["destination_city"]) == ("info_received", "SURABAYA")


def test_tracking_shows_the_history_in_scan_time_order_and_the_delivery(api: Api) -> None:
    awb = book(api)
    for code, seconds_ago, extra, headers in [
        ("IP3", 20, {}, api.courier),
        (
            "D01",
            5,
            {"recipient_name": "Siti Aminah", "recipient_relationship": "addressee"},
            api.courier,
        ),
        ("OP1", 60, {}, api.headers),  # uploaded late by the hub
    ]:
        last = api.client.post(
            f"/v1/shipments/{awb}/scans",
            json=scan_body(code, seconds_ago, **extra),
            headers=headers,
        )
        assert last.status_code == 201, last.text
    token = last.json()["consistency_token"]

    tracked = api.client.get(f"/v1/track/{awb}", params={"consistency_token": token}).json()

    assert [scan["code"] for scan in tracked["history"]] == ["OP1", "IP3", "D01"]
    assert tracked["status"] == "delivered"
    assert tracked["pod_receiver_name"] == "S*** A***"
    assert tracked["pod_relationship"] == "addressee"


def test_retrying_a_booking_with_its_idempotency_key_returns_the_first_awb(api: Api) -> None:
    headers = {**api.headers, "Idempotency-Key": "order-2026-000123"}
    first = api.client.post("/v1/shipments", json=booking_body(), headers=headers)
    retry = api.client.post("/v1/shipments", json=booking_body(), headers=headers)
    other = api.client.post("/v1/shipments", json=booking_body(service="OKE"), headers=headers)

    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json()["awb"] == first.json()["awb"]
    assert retry.json()["consistency_token"] == first.json()["consistency_token"]
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"


def test_a_repeated_scan_id_is_recorded_once(api: Api) -> None:
    awb = book(api)
    scan = scan_body("PU1", 10)
    first = api.client.post(f"/v1/shipments/{awb}/scans", json=scan, headers=api.headers)
    before = api.stored_events()
    retry = api.client.post(f"/v1/shipments/{awb}/scans", json=scan, headers=api.headers)

    assert (first.status_code, retry.status_code) == (201, 200)
    assert (first.json()["recorded"], retry.json()["recorded"]) == (True, False)
    assert retry.json()["consistency_token"] == first.json()["consistency_token"]
    assert api.stored_events() == before
    batch = {"scans": [{**scan, "awb": awb}]}
    again = api.client.post("/v1/scans", json=batch, headers=api.headers)
    assert again.status_code == 201, again.text
    assert again.json()["consistency_token"] == first.json()["consistency_token"]


def test_a_batch_with_one_bad_scan_stores_nothing_and_names_the_item(api: Api) -> None:
    awb = book(api)
    before = api.stored_events()
    batch = {"scans": [{**scan_body("OP1", 9), "awb": awb}, {**scan_body("ZZ9", 8), "awb": awb}]}

    response = api.client.post("/v1/scans", json=batch, headers=api.headers)

    assert response.status_code == 422
    assert response.json()["error"]["details"] == [
        {"index": 1, "code": "unknown_scan_code", "message": "Unknown scan code 'ZZ9'."}
    ]
    assert api.stored_events() == before


def test_tracking_many_answers_found_unknown_and_invalid_numbers(api: Api) -> None:
    awbs = [book(api) for _ in range(3)]
    unknown, invalid = waybill_for(12345), "JL000000000009"
    token = api.client.post(
        f"/v1/shipments/{awbs[-1]}/scans", json=scan_body("PU1", 1), headers=api.headers
    ).json()["consistency_token"]

    answer = api.client.get(
        "/v1/track", params={"awb": ",".join([*awbs, unknown, invalid]), "consistency_token": token}
    ).json()

    assert sorted(s["awb"] for s in answer["shipments"]) == sorted(awbs)
    assert (answer["not_found"], answer["invalid"]) == ([unknown], [invalid])
    too_many = ",".join(waybill_for(n) for n in range(26))
    assert api.client.get("/v1/track", params={"awb": too_many}).status_code == 422


def test_a_revoked_key_is_refused(api: Api, settings: Settings) -> None:
    """The API remembers keys; the revocation's NOTIFY (heard by the API's listener within
    moments of the commit) must make it forget this one, never a timeout."""
    assert api.container.device_keys.wait_listening(timeout=10)
    first = api.client.post("/v1/shipments", json=booking_body(), headers=api.headers)
    assert first.status_code == 201  # the key is now remembered by the API process
    with psycopg.connect(settings.require_database_url(), autocommit=True) as conn:
        revoke_key(conn, api.key_id)
    answers: list[Any] = []

    def refused() -> bool:
        answers.append(api.client.post("/v1/shipments", json=booking_body(), headers=api.headers))
        return bool(answers[-1].status_code != 201)

    assert wait_until(refused, timeout=5, interval=0.01)
    assert answers[-1].status_code == 401
    assert answers[-1].json()["error"]["code"] == "invalid_api_key"


SCAN = "/v1/shipments/{awb}/scans"
BAD_REQUESTS: list[tuple[str, str, Callable[[], Any], int, str]] = [
    (
        "unknown AWB",
        f"/v1/shipments/{waybill_for(4242)}/scans",
        lambda: scan_body("OP1", 5),
        404,
        "shipment_not_found",
    ),
    (
        "bad check digit",
        "/v1/shipments/{awb_typo}/scans",
        lambda: scan_body("OP1", 5),
        422,
        "invalid_awb",
    ),
    ("lower-case scan code", SCAN, lambda: scan_body("op1", 5), 422, "invalid_request"),
    ("unknown scan code", SCAN, lambda: scan_body("XX1", 5), 422, "unknown_scan_code"),
    (
        "scan after delivered",
        "/v1/shipments/{delivered}/scans",
        lambda: scan_body("OP1", 0),
        409,
        "shipment_closed",
    ),
    ("scan in the future", SCAN, lambda: scan_body("OP1", -600), 422, "scan_in_future"),
    ("delivery without recipient", SCAN, lambda: scan_body("D01", 1), 422, "pod_incomplete"),
    ("malformed JSON", "/v1/shipments", lambda: b'{"service": "REG",', 400, "malformed_json"),
    ("COD on YES", "/v1/shipments", lambda: booking_body(service="YES"), 422, "cod_not_available"),
    (
        "COD above the limit",
        "/v1/shipments",
        lambda: booking_body(cod_amount=5_000_001),
        422,
        "cod_amount_out_of_range",
    ),
    (
        "money as a float",
        "/v1/shipments",
        lambda: booking_body(cod_amount=1000.5),
        422,
        "invalid_request",
    ),
    ("unknown field", "/v1/shipments", lambda: booking_body(extra="x"), 422, "invalid_request"),
    (
        "e-mail without a domain",
        "/v1/shipments",
        lambda: booking_body(receiver={**booking_body()["receiver"], "email": "siti@"}),
        422,
        "invalid_request",
    ),
    (
        "oversized batch",
        "/v1/scans",
        lambda: {"scans": [{**scan_body("OP1", 5), "awb": "x"}] * 501},
        422,
        "invalid_request",
    ),
    ("body over 1 MiB", "/v1/scans", lambda: b"[" + b" " * 1_100_000 + b"]", 413, "body_too_large"),
    (
        "chunked body over 1 MiB",
        "/v1/scans",
        lambda: iter([b"[" + b" " * 600_000] * 2),
        413,
        "body_too_large",
    ),
]


@pytest.mark.parametrize(
    ("case", "path", "make_body", "status", "code"), BAD_REQUESTS, ids=[c[0] for c in BAD_REQUESTS]
)
def test_bad_input_gets_a_clear_4xx_and_changes_nothing(
    api: Api, case: str, path: str, make_body: Callable[[], Any], status: int, code: str
) -> None:
    awb = book(api)
    delivered = book(api)
    taken = api.client.post(
        f"/v1/shipments/{delivered}/scans", json=scan_body("IP3", 3), headers=api.courier
    )
    assert taken.status_code == 201, taken.text
    delivery = api.client.post(
        f"/v1/shipments/{delivered}/scans",
        json=scan_body("D01", 2, recipient_name="Siti"),
        headers=api.courier,
    )
    assert delivery.status_code == 201, delivery.text
    typo = awb[:-1] + str((int(awb[-1]) + 1) % 10)  # a wrong check digit
    path = path.format(awb=awb, delivered=delivered, awb_typo=typo)
    body = make_body()
    before = settled_snapshot(api, delivered, delivery.json()["consistency_token"])

    if isinstance(body, bytes | Iterator):  # an iterator is sent chunked, without Content-Length
        response = api.client.post(
            path, content=body, headers={**api.headers, "Content-Type": "application/json"}
        )
    else:
        response = api.client.post(path, json=body, headers=api.headers)

    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]
    assert everything(api) == before


# Tables a refused request may legitimately change. Add a table here (login throttle
# buckets, for one, if a case ever signs in) only with the reason.
# - rate_buckets: a rate limit counts the requests made, refused ones too, or a flood of
#   invalid bookings would be unlimited; the count is all it keeps.
MAY_CHANGE_ON_REFUSAL: tuple[str, ...] = ("public.rate_buckets",)


def everything(api: Api) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table and read model of the test database, event stores included."""
    with api.container.pool.connection() as conn:
        snapshot = database_snapshot(conn, exclude=MAY_CHANGE_ON_REFUSAL)
    assert {"shipments.shipments_events", "public.tracking_shipments"} <= snapshot.keys()
    return snapshot


def settled_snapshot(api: Api, awb: str, token: str) -> dict[str, list[tuple[Any, ...]]]:
    """The database once the read model has the setup's last write and the background relay
    and projection have nothing left to do (two snapshots in a row agree)."""
    caught_up = api.client.get(f"/v1/track/{awb}", params={"consistency_token": token})
    assert caught_up.status_code == 200, caught_up.text
    taken = [everything(api)]

    def still() -> bool:
        time.sleep(0.3)
        taken.append(everything(api))
        return taken[-1] == taken[-2]

    assert wait_until(still, timeout=20, interval=0), "the database never settled"
    return taken[-1]


def test_malformed_or_unissued_consistency_tokens_are_refused(api: Api) -> None:
    awb = book(api)
    for token in ("garbage", "shipments:1=2,1=3", "shipments:0=999999999"):
        for params in ({"awb": awb}, {"awb": "JL0"}):
            response = api.client.get("/v1/track", params={**params, "consistency_token": token})
            assert response.status_code == 422, (token, params, response.text)
            assert response.json()["error"]["code"] == "invalid_consistency_token"


def test_lagging_reads_beyond_the_waiter_cap_answer_503_at_once(settings: Settings) -> None:
    # No relay or consumer runs, so the read model never reaches the token.
    capped = settings.model_copy(update={"consistency_max_waiters": 1, "consistency_wait_max_s": 3})
    container = bootstrap(capped)
    token = token_for(
        "shipments", container.shipments.book(booking(), actor="k", now=BOOKED_AT).written, 4
    )
    finished: list[tuple[str, int]] = []

    with TestClient(create_app(container)) as client:

        def read(name: str) -> None:
            response = client.get("/v1/track", params={"awb": "JL0", "consistency_token": token})
            finished.append((name, response.status_code))

        waiting = Threads()
        waiting.start(read, "waiting")
        time.sleep(0.5)  # let the first read take the only waiter's place
        read("refused")
        waiting.join(timeout=30)
    container.close()

    assert finished == [("refused", 503), ("waiting", 503)]


def booked_events(api: Api) -> list[tuple[Any, ...]]:
    """The shipment id of every Shipment.Booked event in the event store."""
    with api.container.pool.connection() as conn:
        return conn.execute(
            "SELECT originator_id FROM shipments.shipments_events WHERE topic LIKE %s",
            ("%Shipment.Booked",),
        ).fetchall()


def test_ten_simultaneous_retries_of_one_booking_make_one_shipment(
    api: Api, settings: Settings
) -> None:
    with psycopg.connect(settings.require_database_url(), autocommit=True) as conn:
        _, other_secret = create_key(conn, "CGK10000", "another counter")
    before = booked_events(api)

    def attempt(headers: dict[str, str]) -> tuple[int, str]:
        response = api.client.post("/v1/shipments", json=booking_body(), headers=headers)
        return response.status_code, response.json().get("awb", response.text)

    same = {**api.headers, "Idempotency-Key": "order-2026-race-1"}
    other_caller = {"X-API-Key": other_secret, "Idempotency-Key": "order-2026-race-1"}
    answers = run_at_once(attempt, [same] * 10 + [other_caller] * 10)

    mine, theirs = answers[:10], answers[10:]
    assert {status for status, _ in answers} == {201}, answers
    assert len({awb for _, awb in mine}) == 1, mine
    assert len({awb for _, awb in theirs}) == 1, theirs
    assert mine[0][1] != theirs[0][1]  # the same key from another caller is another booking
    assert len(booked_events(api)) == len(before) + 2
    for awb in (mine[0][1], theirs[0][1]):
        assert api.container.shipments.shipment(awb).awb == awb

"""The whole system as a courier's clients meet it: HTTPS, device keys, public tracking."""

import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import psycopg

from tests.e2e.conftest import Devices, System, create_key
from tests.support import run_at_once


def booking() -> dict[str, Any]:
    return {
        "service": "OKE",
        "shipper": {
            "name": "Dewi Lestari",
            "phone": "081311112222",
            "address": "Jl. Braga 5",
            "area": "BDO40111",
        },
        "receiver": {
            "name": "Agus Salim",
            "phone": "081333334444",
            "address": "Jl. Malioboro 8",
            "area": "JOG55211",
        },
        "parcel": {
            "weight_grams": 2500,
            "length_cm": 30,
            "width_cm": 20,
            "height_cm": 15,
            "declared_value": 400000,
        },
    }


def scan(code: str, seconds_ago: int, **extra: Any) -> dict[str, Any]:
    at = (datetime.now(UTC) - timedelta(seconds=seconds_ago)).isoformat()
    return {
        "scan_id": str(uuid4()),
        "code": code,
        "scanned_at": at,
        "location": "JOG55211",
        **extra,
    }


def test_a_shipment_is_booked_scanned_delivered_and_tracked_over_https(
    system: System, jog: Devices
) -> None:
    headers = {"X-API-Key": system.api_key}
    with system.client() as client:
        booked = client.post("/v1/shipments", json=booking(), headers=headers)
        assert booked.status_code == 201, booked.text
        awb = booked.json()["awb"]
        at_hub = [scan("PU1", 50), scan("OP1", 40)]
        by_courier = [
            scan("IP3", 20),
            scan("D01", 5, recipient_name="Agus Salim", recipient_relationship="addressee"),
        ]
        for journey, device in ((at_hub, jog.hub), (by_courier, jog.courier)):
            batch = client.post(
                "/v1/scans", json={"scans": [{**s, "awb": awb} for s in journey]}, headers=device
            )
            assert batch.status_code == 201, batch.text

        tracked = track_when_visible(client, awb, batch.json()["consistency_token"])

    assert tracked.status_code == 200, tracked.text
    body = tracked.json()
    assert body["status"] == "delivered"
    assert [h["code"] for h in body["history"]] == ["PU1", "OP1", "IP3", "D01"]
    assert (body["origin_city"], body["destination_city"]) == ("BANDUNG", "YOGYAKARTA")
    for personal in ("Dewi", "Lestari", "Agus", "Salim", "0813", "Braga", "Malioboro"):
        assert personal not in tracked.text


def test_the_api_speaks_only_tls_with_security_headers(system: System) -> None:
    with system.client() as client:
        response = client.get("/healthz")
    assert response.json() == {"status": "ok", "database": "ok"}
    assert response.headers["strict-transport-security"].startswith("max-age=")
    assert response.headers["x-content-type-options"] == "nosniff"


def test_scanning_without_a_key_is_refused_and_changes_nothing(system: System) -> None:
    with system.client() as client:
        booked = client.post("/v1/shipments", json=booking(), headers={"X-API-Key": system.api_key})
        assert booked.status_code == 201, booked.text
        awb, token = booked.json()["awb"], booked.json()["consistency_token"]
        refused = client.post(f"/v1/shipments/{awb}/scans", json=scan("PU1", 1))
        wrong = client.post(
            f"/v1/shipments/{awb}/scans", json=scan("PU1", 1), headers={"X-API-Key": "jlk_guess"}
        )
        tracked = track_when_visible(client, awb, token)
    assert (refused.status_code, wrong.status_code) == (401, 401)
    assert refused.json()["error"]["code"] == "unauthenticated"
    assert wrong.json()["error"]["code"] == "invalid_api_key"
    assert tracked.status_code == 200, tracked.text
    assert tracked.json()["status"] == "info_received"
    assert tracked.json()["history"] == []


def track_when_visible(client: httpx.Client, awb: str, token: str) -> httpx.Response:
    """Public tracking with the write's consistency token: the booking is visible in the
    answer. A 503 (read model still catching up) is retried, as clients do; it must end."""
    response = client.get(f"/v1/track/{awb}", params={"consistency_token": token})
    deadline = time.monotonic() + 60
    while response.status_code == 503 and time.monotonic() < deadline:
        time.sleep(float(response.headers.get("Retry-After", "1")))
        response = client.get(f"/v1/track/{awb}", params={"consistency_token": token})
    return response


def test_ten_simultaneous_retries_over_https_book_once_per_caller(system: System) -> None:
    other_key = create_key(system.database_url)
    key = f"order-{uuid4().hex[:12]}"

    def attempt(api_key: str) -> tuple[int, str]:
        with system.client() as client:
            response = client.post(
                "/v1/shipments",
                json=booking(),
                headers={"X-API-Key": api_key, "Idempotency-Key": key},
            )
        return response.status_code, response.json().get("awb", response.text)

    before = booked_events(system)
    answers = run_at_once(attempt, [system.api_key] * 10 + [other_key] * 10)

    assert {status for status, _ in answers} == {201}, answers
    mine, theirs = {awb for _, awb in answers[:10]}, {awb for _, awb in answers[10:]}
    assert len(mine) == 1, answers
    assert len(theirs) == 1, answers
    assert mine != theirs
    assert booked_events(system) == before + 2  # one Shipment.Booked per caller


def booked_events(system: System) -> int:
    """How many Shipment.Booked events the event store holds."""
    with psycopg.connect(system.database_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM shipments.shipments_events WHERE topic LIKE %s",
            ("%Shipment.Booked",),
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_personal_data_never_reaches_any_log(system: System, jog: Devices) -> None:
    personal = {
        "name": "Kartika Wulandari",
        "phone": "081377778888",
        "address": "Jl. Cendrawasih Raya 77",
        "area": "DPS80111",
    }
    body = {**booking(), "shipper": personal}
    headers = {"X-API-Key": system.api_key}
    with system.client() as client:
        awb = client.post("/v1/shipments", json=body, headers=headers).json()["awb"]
        delivery = scan("D01", 1, recipient_name="Wulandari Kartika")
        taken = client.post(f"/v1/shipments/{awb}/scans", json=scan("IP3", 2), headers=jog.courier)
        assert taken.status_code == 201, taken.text
        token = client.post(
            f"/v1/shipments/{awb}/scans", json=delivery, headers=jog.courier
        ).json()["consistency_token"]
        assert track_when_visible(client, awb, token).status_code == 200
        client.post("/v1/shipments", json={**body, "cod_amount": "not money"}, headers=headers)
        client.post(
            f"/v1/shipments/{awb}/scans", json=delivery | {"scan_id": "x"}, headers=jog.courier
        )

    logs = [
        system.state_dir / "up.log",
        *system.state_dir.rglob("*.log"),
        *system.state_dir.rglob("log/*"),
    ]
    text = "\n".join(path.read_text(errors="replace") for path in logs if path.is_file())
    assert "POST /v1/shipments 201" in text  # the request log is there, and holds no person
    for value in ("Kartika", "Wulandari", "081377778888", "Cendrawasih", awb):
        assert value not in text

"""Erasure reaches parcels linked to the account after they were booked (issue 14,
finding 4): their data was sealed under the shipment's own party key before anyone knew
whose it was. After `DELETE /v1/me`, with the master key in hand, none of it opens;
tracking shows nothing of the person; a later scan mails the erased address nothing."""

import json
import uuid
from typing import Any

import httpx
import psycopg
from psycopg import sql

from domain.sealing import subject_of
from domain.shipments import data_subject
from tests.e2e.conftest import Devices, System
from tests.e2e.people import link_token, mails_to, sign_in
from tests.e2e.test_erasure import SEALED, _keyring
from tests.e2e.test_system import booking, scan
from tests.support import wait_until

RINA = "Rina Kusumawati"
SHOP = "Toko Batik Sekar"
MEDICINE = "Obat pribadi untuk Rina"


def test_erasure_shreds_parcels_linked_after_booking(system: System, jog: Devices) -> None:
    user_id = f"rina-{uuid.uuid4().hex[:6]}"
    rina = f"{user_id}@example.id"
    shop = f"toko-{uuid.uuid4().hex[:6]}@example.id"
    device = {"X-API-Key": system.api_key}
    with system.client() as client:
        own = _book(client, device, _party(RINA, rina, "BDO40111"), _party(RINA, rina), MEDICINE)
        bought = _book(client, device, _party(SHOP, shop, "BDO40111"), _party(RINA, rina), "")
        headers = _register_and_verify(client, system, user_id, rina)
        assert wait_until(lambda: _mine(client, headers) == {own, bought}, timeout=60)
        _deliver(client, jog, own)
        assert wait_until(lambda: _delivered_mails(system, rina, own) > 0, timeout=60)
        account_id = uuid.UUID(client.get("/v1/me", headers=headers).json()["account_id"])
        own_sealed = _sealed_in_events(system, own)
        bought_sealed = _sealed_in_events(system, bought)
        with _keyring(system) as keyring:
            assert RINA in keyring.unseal_many(own_sealed).values(), "readable before"

        erased = client.request(
            "DELETE", "/v1/me", json={"password": "kopi luwak asli 2026"}, headers=headers
        )
        assert erased.status_code == 204, erased.text

        with _keyring(system) as keyring:
            assert set(keyring.unseal_many(own_sealed).values()) == {None}
            bought_opened = keyring.unseal_many(bought_sealed)
        rinas = {account_id, data_subject(_shipment_id(system, bought), "receiver")}
        assert {bought_opened[v] for v in bought_sealed if subject_of(v) in rinas} == {None}
        assert SHOP in bought_opened.values(), "the shop's own data still opens"
        for awb in (own, bought):
            tracked = client.get(f"/v1/track/{awb}").json()
            assert (tracked["receiver_name"], tracked["pod_receiver_name"]) == (None, None)
        assert client.get(f"/v1/track/{own}").json()["shipper_name"] is None
        _deliver(client, jog, bought)
        assert wait_until(lambda: _delivered_mails(system, shop, bought) > 0, timeout=60)
    assert _delivered_mails(system, rina, bought) == 0, "nothing to the erased address"


def _party(name: str, email: str, area: str = "JOG55211") -> dict[str, Any]:
    return {
        "name": name,
        "phone": "081355556666",
        "address": "Jl. Sudirman 1",
        "area": area,
        "email": email,
    }


def _book(
    client: httpx.Client,
    device: dict[str, str],
    shipper: dict[str, Any],
    receiver: dict[str, Any],
    description: str,
) -> str:
    body = booking() | {"shipper": shipper, "receiver": receiver}
    body["parcel"] = body["parcel"] | {"description": description}
    booked = client.post("/v1/shipments", json=body, headers=device)
    assert booked.status_code == 201, booked.text
    return str(booked.json()["awb"])


def _register_and_verify(
    client: httpx.Client, system: System, user_id: str, email: str
) -> dict[str, str]:
    registration = {
        "user_id": user_id,
        "email": email,
        "password": "kopi luwak asli 2026",
        "display_name": RINA,
        "phone": "081355556666",
    }
    assert client.post("/v1/accounts", json=registration).status_code == 202
    token = link_token(system.state_dir, email, "verify-email")
    proof = {"token": token, "password": registration["password"]}
    assert client.post("/v1/accounts/verify-email", json=proof).status_code == 200
    return sign_in(client, user_id, registration["password"])


def _mine(client: httpx.Client, headers: dict[str, str]) -> set[str]:
    answer = client.get("/v1/me/shipments", headers=headers)
    return {s["awb"] for s in answer.json()["shipments"]} if answer.status_code == 200 else set()


def _deliver(client: httpx.Client, jog: Devices, awb: str) -> None:
    """The Yogyakarta courier takes the parcel and delivers it, as custody asks."""
    taken = client.post(f"/v1/shipments/{awb}/scans", json=scan("IP3", 2), headers=jog.courier)
    assert taken.status_code == 201, taken.text
    delivered = client.post(
        f"/v1/shipments/{awb}/scans", json=scan("D01", 1, recipient_name=RINA), headers=jog.courier
    )
    assert delivered.status_code == 201, delivered.text


def _delivered_mails(system: System, address: str, awb: str) -> int:
    return sum(f"{awb} delivered" in str(m["Subject"]) for m in mails_to(system.state_dir, address))


def _events_table(conn: psycopg.Connection[Any]) -> sql.Composed:
    row = conn.execute(
        """SELECT table_schema, table_name FROM information_schema.tables
           WHERE table_name LIKE %s""",
        ("%shipments%events",),
    ).fetchone()
    assert row is not None
    return sql.SQL("{}.{}").format(sql.Identifier(row[0]), sql.Identifier(row[1]))


def _shipment_id(system: System, awb: str) -> uuid.UUID:
    with psycopg.connect(system.database_url) as conn:
        rows = conn.execute(
            sql.SQL("SELECT originator_id, state FROM {}").format(_events_table(conn))
        ).fetchall()
    for originator_id, state in rows:
        facts = json.loads(bytes(state))
        if facts.get("awb") == awb and "booking" in facts:
            return uuid.UUID(str(originator_id))
    raise AssertionError(f"no booking of {awb} in the event store")


def _sealed_in_events(system: System, awb: str) -> list[str]:
    """Every sealed value in the shipment's stored events (bookings, links, scans)."""
    shipment_id = _shipment_id(system, awb)
    with psycopg.connect(system.database_url) as conn:
        states = conn.execute(
            sql.SQL("SELECT state FROM {} WHERE originator_id = %s").format(_events_table(conn)),
            (shipment_id,),
        ).fetchall()
    text = "\n".join(bytes(state).decode() for (state,) in states)
    assert MEDICINE not in text, "the description is sealed too"
    found = SEALED.findall(text)
    assert found, "the parcel's personal data is in its events, sealed"
    return found

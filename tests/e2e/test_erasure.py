"""Crypto-shredding, end to end: a customer who erases themselves becomes unreadable in
the event store, on the Kafka topics and in every read model, even to someone holding the
master key and every table; the auditor's totals do not move by a rupiah."""

import contextlib
import re
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from confluent_kafka import Consumer, KafkaError, TopicPartition

from domain.sealing import subject_of
from infra.postgres.connections import make_pool
from infra.security.keyring import Keyring
from infra.settings import Settings
from tests.e2e.conftest import Devices, System, banner_value
from tests.e2e.people import Person, staff, verified_customer
from tests.e2e.test_system import booking, scan
from tests.support import wait_until

SEALED = re.compile(r"pii1:[0-9a-f-]{36}:[A-Za-z0-9_-]+")


@pytest.fixture
def customer(system: System) -> Person:
    with system.client() as client:
        return verified_customer(client, system.state_dir, "Citra")


def test_erasure_shreds_personal_data_everywhere_and_keeps_the_totals(
    system: System, customer: Person, jog: Devices
) -> None:
    with system.client() as client:
        auditor = staff(client, system.database_url, system.state_dir, "auditor").headers
        awb, token = _send_and_deliver(client, jog, customer)
        own = client.get(
            f"/v1/me/shipments/{awb}", params={"consistency_token": token}, headers=customer.headers
        )
        assert own.status_code == 200, own.text
        assert own.json()["shipper"]["name"] == "Citra Paramitha"
        assert client.get("/v1/me/export", headers=customer.headers).status_code == 200
        totals_before = client.get("/v1/audit/totals", headers=auditor).json()
        plaintexts = _personal(customer)
        account_id = client.get("/v1/me", headers=customer.headers).json()["account_id"]
        sealed = _sealed_values_of(system, uuid.UUID(account_id))
        assert sealed, "the customer's data is in the stores, sealed"
        with _keyring(system) as keyring:
            assert set(keyring.unseal_many(sealed).values()) & set(plaintexts)

        erased = client.request(
            "DELETE", "/v1/me", json={"password": customer.password}, headers=customer.headers
        )
        assert erased.status_code == 204, erased.text

        with _keyring(system) as keyring:
            assert set(keyring.unseal_many(sealed).values()) == {None}
        assert client.get("/v1/me", headers=customer.headers).status_code == 401
        tracked = client.get(f"/v1/track/{awb}", params={"consistency_token": token}).json()
        assert (tracked["status"], tracked["shipper_name"]) == ("delivered", None)
        totals_after = client.get("/v1/audit/totals", headers=auditor).json()
    assert totals_after == totals_before
    for place, text in _everything_stored(system).items():
        for value in plaintexts:
            assert value not in text, f"{value!r} readable in {place}"


def _send_and_deliver(client: Any, jog: Devices, customer: Person) -> tuple[str, str]:
    shipment = booking() | {"cod_amount": 125_000}
    shipment["shipper"] = {
        "name": "Citra Paramitha",
        "phone": customer.phone,
        "address": "Jl. Kenanga 17, Bandung",
        "area": "BDO40111",
        "email": customer.email,
    }
    booked = client.post("/v1/shipments", json=shipment, headers=customer.headers)
    assert booked.status_code == 201, booked.text
    awb = booked.json()["awb"]
    taken = client.post(f"/v1/shipments/{awb}/scans", json=scan("IP3", 2), headers=jog.courier)
    assert taken.status_code == 201, taken.text
    delivered = client.post(
        f"/v1/shipments/{awb}/scans",
        json=scan("D01", 1, recipient_name="Agus Salim", latitude=-6.917464, longitude=107.619123),
        headers=jog.courier,
    )
    assert delivered.status_code == 201, delivered.text
    return awb, delivered.json()["consistency_token"]


def _personal(customer: Person) -> list[str]:
    assert customer.email is not None
    return [
        customer.user_id,
        customer.email,
        customer.display_name,
        "Citra Paramitha",
        "Jl. Kenanga 17, Bandung",
        "-6.917464",  # where the parcel was handed over: sealed, never stored in clear
        "107.619123",
    ]


@contextlib.contextmanager
def _keyring(system: System) -> Iterator[Keyring]:
    """A keyring with the master key itself: what an insider with every secret holds."""
    settings = Settings(state_dir=system.state_dir, database_url=system.database_url)
    pool = make_pool(system.database_url, 2, "test-keyring")
    try:
        yield Keyring(pool, settings.require_master_key())
    finally:
        pool.close()


def _sealed_values_of(system: System, subject: uuid.UUID) -> list[str]:
    return [
        value
        for text in _everything_stored(system).values()
        for value in SEALED.findall(text)
        if subject_of(value) == subject
    ]


def _everything_stored(system: System) -> dict[str, str]:
    """Every table of the database as text, and every message on every topic."""
    stored: dict[str, str] = {}
    with psycopg.connect(system.database_url, autocommit=True) as conn:
        tables = conn.execute(
            """SELECT table_schema, table_name FROM information_schema.tables
               WHERE table_type = 'BASE TABLE'
                 AND table_schema NOT IN ('pg_catalog', 'information_schema')"""
        ).fetchall()
        for schema, table in tables:
            rows = conn.execute(
                psycopg.sql.SQL("SELECT t::text FROM {}.{} t").format(
                    psycopg.sql.Identifier(schema), psycopg.sql.Identifier(table)
                )
            ).fetchall()
            text = "\n".join(row[0] for row in rows)
            if table.endswith("_events"):  # the event store keeps JSON in a bytea
                state = conn.execute(
                    psycopg.sql.SQL("SELECT state FROM {}.{}").format(
                        psycopg.sql.Identifier(schema), psycopg.sql.Identifier(table)
                    )
                ).fetchall()
                text += "\n".join(bytes(s).decode(errors="replace") for (s,) in state)
            stored[f"table {schema}.{table}"] = text
    for topic in ("jalur.shipments.events", "jalur.accounts.events"):
        stored[f"topic {topic}"] = _topic_text(system, topic)
    return stored


def _topic_text(system: System, topic: str) -> str:
    bootstrap = banner_value(system.state_dir / "up.log", "broker")
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"erasure-test-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
        }
    )
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        values: list[str] = []

        def drained() -> bool:
            message = consumer.poll(1.0)
            if message is None:
                return True
            error = message.error()
            if error is None:
                values.append((message.value() or b"").decode())
            elif error.code() != KafkaError._PARTITION_EOF:
                raise AssertionError(str(error))
            return False

        assert wait_until(drained, timeout=60, interval=0)
        assert values, f"no messages on {topic}"
        return "\n".join(values)
    finally:
        consumer.close()

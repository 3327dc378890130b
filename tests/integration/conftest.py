"""Real PostgreSQL (the server named by JALUR_TEST_DATABASE_URL, else an embedded one)
and a real Kafka-protocol broker (Tansu), each test with its own database and topics."""

import os
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from infra.runtime.embedded import EmbeddedBroker, EmbeddedPostgres
from infra.settings import Settings
from tests.support import new_master_key


@pytest.fixture(scope="session")
def pg_admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("JALUR_TEST_DATABASE_URL")
    if url:
        yield url
        return
    server = EmbeddedPostgres.start(tmp_path_factory.mktemp("pg") / "data")
    yield server.url
    server.stop()


@pytest.fixture
def database_url(pg_admin_url: str) -> Iterator[str]:
    name = f"jalur_test_{uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield make_conninfo(pg_admin_url, dbname=name)
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    server = EmbeddedBroker.start(tmp_path_factory.mktemp("broker"))
    yield server
    server.stop()


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    """A broker for one test, which may restart it."""
    server = EmbeddedBroker.start(tmp_path / "broker")
    yield server
    server.stop()


def make_settings(database_url: str, bootstrap: str) -> Settings:
    return Settings(
        database_url=database_url,
        kafka_bootstrap=bootstrap,
        topic_prefix=f"t{uuid4().hex[:12]}",
        kafka_partitions=4,
        relay_check_interval_s=0.5,
        consistency_wait_max_s=10,
        master_key=new_master_key(),
        argon2_time_cost=2,  # OWASP's minimum parameters: fast enough for many test logins
        argon2_memory_kib=19456,
        argon2_parallelism=1,
    )


@pytest.fixture
def settings(database_url: str, broker: EmbeddedBroker) -> Settings:
    return make_settings(database_url, broker.bootstrap)

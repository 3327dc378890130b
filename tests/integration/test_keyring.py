"""The keyring on real PostgreSQL: keys made once per subject, wrapped, and gone for good."""

import base64
from collections.abc import Iterator
from uuid import uuid4

import psycopg
import pytest
from cryptography.exceptions import InvalidTag

from domain.sealing import SubjectErased
from infra.postgres.connections import make_pool
from infra.postgres.schema import create_tables
from infra.security.keyring import Keyring
from tests.support import new_master_key, run_at_once


def random_master_key() -> bytes:
    return base64.urlsafe_b64decode(new_master_key().get_secret_value())


@pytest.fixture
def master_key() -> bytes:
    return random_master_key()


@pytest.fixture
def keyring(database_url: str, master_key: bytes) -> Iterator[Keyring]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        create_tables(conn)
    pool = make_pool(database_url, 8, "keyring-test")
    yield Keyring(pool, master_key)
    pool.close()


def test_sealed_values_open_in_another_process_with_the_same_master_key(
    keyring: Keyring, database_url: str, master_key: bytes
) -> None:
    first, second = uuid4(), uuid4()
    sealed = keyring.seal_many({first: {"name": "Budi"}, second: {"name": "Siti"}})
    pool = make_pool(database_url, 2, "keyring-other")
    try:
        other = Keyring(pool, master_key)
        opened = other.unseal_many([sealed[first]["name"], sealed[second]["name"]])
        stranger = Keyring(pool, random_master_key())
        with pytest.raises(InvalidTag):  # another master key cannot unwrap the data keys
            stranger.unseal_many([sealed[first]["name"]])
    finally:
        pool.close()
    assert sorted(v for v in opened.values() if v) == ["Budi", "Siti"]


def test_keys_are_stored_wrapped_never_in_clear(keyring: Keyring, database_url: str) -> None:
    subject = uuid4()
    keyring.seal(subject, {"phone": "081234567890"})
    with psycopg.connect(database_url) as conn:
        (wrapped,) = conn.execute(
            "SELECT wrapped FROM data_keys WHERE subject = %s", (subject,)
        ).fetchone() or (b"",)
    assert len(bytes(wrapped)) == 12 + 32 + 16  # nonce + key + tag: a wrapped key only


def test_concurrent_first_seals_of_one_subject_agree_on_one_key(
    keyring: Keyring, database_url: str, master_key: bytes
) -> None:
    subject = uuid4()
    pool = make_pool(database_url, 8, "keyring-race")
    rings = [Keyring(pool, master_key) for _ in range(8)]
    try:
        results = run_at_once(lambda ring: ring.seal(subject, {"name": "Ayu"})["name"], rings)
    finally:
        pool.close()
    assert set(keyring.unseal_many(results).values()) == {"Ayu"}


def test_a_destroyed_subject_gets_no_new_key_and_its_values_stay_closed(
    keyring: Keyring, database_url: str, master_key: bytes
) -> None:
    gone, alive = uuid4(), uuid4()
    sealed = keyring.seal(gone, {"name": "Citra"})["name"]
    keyring.destroy(gone)
    pool = make_pool(database_url, 2, "keyring-fresh")
    try:
        fresh = Keyring(pool, master_key)  # no cache: what another process sees
        with pytest.raises(SubjectErased):
            fresh.seal_many({alive: {"name": "Dewi"}, gone: {"name": "Citra"}})
        assert fresh.unseal(sealed) is None
    finally:
        pool.close()

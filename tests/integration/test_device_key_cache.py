"""Remembered device keys (infra/postgres/device_key_cache.py) on a real PostgreSQL: a
revocation empties the memory, and so does a lost listening connection."""

from collections.abc import Iterator

import psycopg
import pytest

from infra.postgres.connections import make_pool
from infra.postgres.device_key_cache import DeviceKeyCache
from infra.postgres.device_keys import Device, authenticate, create_key, revoke_key
from infra.runtime.bootstrap import build_applications
from infra.settings import Settings
from tests.support import wait_until


@pytest.fixture
def cache(settings: Settings) -> Iterator[DeviceKeyCache]:
    build_applications(settings).close()  # creates the tables
    keys = DeviceKeyCache(settings.require_database_url())
    assert keys.wait_listening(timeout=10)
    yield keys
    keys.close()


def test_a_key_is_remembered_until_it_is_revoked(cache: DeviceKeyCache, settings: Settings) -> None:
    url = settings.require_database_url()
    with psycopg.connect(url, autocommit=True) as conn:
        key_id, secret = create_key(conn, "CGK10000")
    pool = make_pool(url, 2, "test-keys")
    device = cache.authenticate(secret, lambda s: authenticate(pool, s))
    assert device == Device(key_id, "CGK10000")
    assert cache.cached(secret) == device

    with psycopg.connect(url, autocommit=True) as conn:
        revoke_key(conn, key_id)

    assert wait_until(lambda: cache.cached(secret) is None, timeout=5)
    assert cache.authenticate(secret, lambda s: authenticate(pool, s)) is None
    pool.close()


def test_a_lost_listener_forgets_every_key_and_trusts_none_until_back(
    cache: DeviceKeyCache, settings: Settings
) -> None:
    """A revocation made while the listener is down is never heard; the keys remembered
    before must not outlive it."""
    url = settings.require_database_url()
    with psycopg.connect(url, autocommit=True) as conn:
        key_id, secret = create_key(conn, "CGK10000")
    pool = make_pool(url, 2, "test-keys")
    assert cache.authenticate(secret, lambda s: authenticate(pool, s)) is not None

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE query LIKE 'LISTEN %' AND datname = current_database()"
        )
        assert wait_until(lambda: cache.cached(secret) is None, timeout=10)
        revoke_key(conn, key_id)  # while nobody listens, or just before it listens again

    assert cache.wait_listening(timeout=10)
    assert cache.cached(secret) is None
    assert cache.authenticate(secret, lambda s: authenticate(pool, s)) is None
    pool.close()

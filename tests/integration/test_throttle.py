"""Login throttling on real PostgreSQL: caps hold under concurrent attempts."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from domain.login_policy import ACCOUNT_LOCK_AT, ACCOUNT_WINDOW, CLIENT_LOCK_AT, Verdict
from infra.postgres.connections import make_pool
from infra.postgres.schema import create_tables
from infra.postgres.throttle import LoginThrottle
from tests.support import run_at_once

NOW = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
ACCOUNT = "blind-index-of-someone"
DEVICE = "hash-of-a-trusted-device-token"
CUSTOMER = "198.51.100.7"
ATTACKERS = 50


@pytest.fixture
def throttle(database_url: str) -> Iterator[LoginThrottle]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        create_tables(conn)
    pool = make_pool(database_url, 20, "throttle-test")
    yield LoginThrottle(pool)
    pool.close()


def attempt(
    throttle: LoginThrottle, client: str, device_key: str | None = None, now: datetime = NOW
) -> Verdict:
    return throttle.begin(account_key=ACCOUNT, client=client, device_key=device_key, now=now)


def lock_untrusted(throttle: LoginThrottle) -> None:
    for n in range(ACCOUNT_LOCK_AT):
        assert attempt(throttle, f"203.0.113.{n}").allowed
    assert not attempt(throttle, "203.0.113.200").allowed


def test_fifty_simultaneous_attempts_on_one_account_let_exactly_ten_through(
    throttle: LoginThrottle,
) -> None:
    verdicts = run_at_once(lambda n: attempt(throttle, f"203.0.113.{n}"), range(ATTACKERS))

    allowed = [v for v in verdicts if v.allowed]
    refused = [v for v in verdicts if not v.allowed]
    assert sorted(v.delay_s for v in allowed) == [0, 0, 0, 0, 0.5, 1, 2, 4, 8, 8]
    assert len(refused) == ATTACKERS - ACCOUNT_LOCK_AT
    assert {v.retry_after_s for v in refused} == {ACCOUNT_WINDOW.seconds}
    assert attempt(throttle, CUSTOMER, DEVICE) == Verdict(allowed=True)


def test_an_attacker_cannot_lock_out_a_trusted_device(throttle: LoginThrottle) -> None:
    lock_untrusted(throttle)

    assert attempt(throttle, CUSTOMER, DEVICE) == Verdict(allowed=True)
    assert not attempt(throttle, CUSTOMER).allowed


def test_clearing_the_account_after_a_password_reset_unlocks_it(throttle: LoginThrottle) -> None:
    lock_untrusted(throttle)

    throttle.clear_account(ACCOUNT)

    assert attempt(throttle, CUSTOMER) == Verdict(allowed=True)


def test_the_lock_ends_with_its_window(throttle: LoginThrottle) -> None:
    lock_untrusted(throttle)

    assert attempt(throttle, CUSTOMER, now=NOW + ACCOUNT_WINDOW) == Verdict(allowed=True)


def test_the_right_password_forgives_earlier_failures(throttle: LoginThrottle) -> None:
    for _ in range(ACCOUNT_LOCK_AT - 1):
        attempt(throttle, CUSTOMER)
    assert attempt(throttle, CUSTOMER).allowed

    throttle.succeeded(account_key=ACCOUNT, client=CUSTOMER, device_key=None, now=NOW)

    assert attempt(throttle, CUSTOMER) == Verdict(allowed=True)


def test_an_address_is_locked_after_100_failures_over_100_accounts(
    throttle: LoginThrottle,
) -> None:
    def stuff(account: str) -> Verdict:
        return throttle.begin(account_key=account, client="192.0.2.66", device_key=None, now=NOW)

    verdicts = [stuff(f"account-{n}") for n in range(CLIENT_LOCK_AT)]

    assert all(v.allowed for v in verdicts)
    assert verdicts[-1].delay_s == 1.0
    assert stuff("one-more-account") == Verdict(allowed=False, retry_after_s=900)
    assert attempt(throttle, CUSTOMER).allowed


def test_client_addresses_are_not_stored_in_clear(
    throttle: LoginThrottle, database_url: str
) -> None:
    attempt(throttle, CUSTOMER)

    with psycopg.connect(database_url) as conn:
        stored = conn.execute("SELECT bucket FROM login_buckets").fetchall()

    assert stored
    assert all(CUSTOMER not in bucket for (bucket,) in stored)


def test_buckets_whose_windows_ended_are_purged_and_live_ones_kept(
    throttle: LoginThrottle,
) -> None:
    throttle.begin(account_key="old", client="10.0.0.1", device_key=None, now=NOW)
    later = NOW + timedelta(hours=2)
    throttle.begin(account_key="new", client="10.0.0.2", device_key=None, now=later)
    assert throttle.purge(later) == 3, "the old attempt's account, hour and address rows"
    assert attempt(throttle, "10.0.0.3", now=later).allowed
    assert throttle.purge(later) == 0, "nothing live is purged"


def test_a_stuffer_locking_the_customers_address_never_locks_the_customers_device(
    throttle: LoginThrottle,
) -> None:
    for n in range(CLIENT_LOCK_AT):
        throttle.begin(account_key=f"stuffed-{n}", client=CUSTOMER, device_key=None, now=NOW)

    assert not attempt(throttle, CUSTOMER).allowed
    assert attempt(throttle, CUSTOMER, DEVICE) == Verdict(allowed=True)

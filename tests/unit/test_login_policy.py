from bisect import bisect_left
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.login_policy import (
    ACCOUNT,
    ACCOUNT_LOCK_AT,
    ACCOUNT_WINDOW,
    CLIENT,
    CLIENT_DELAY_FROM,
    CLIENT_LOCK_AT,
    HOUR,
    HOUR_WINDOW,
    HOURLY_CAP,
    Attempt,
    Bucket,
    Limits,
    Verdict,
    decide,
    forgive,
    live,
    withdraw,
)

START = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
ATTACKER = "203.0.113.9"
CUSTOMER = "198.51.100.7"
UNTRUSTED = "untrusted"
UNTRUSTED_A = "untrusted:a"  # account "a"'s untrusted bucket
DEVICE = "device"


class Store:
    """Buckets kept in memory under the ids infra.postgres.throttle gives its rows."""

    def __init__(self) -> None:
        self.buckets: dict[str, Bucket] = {}

    def begin(self, own: str, client: str, now: datetime, account: str = "a") -> Verdict:
        ids = self._ids(own, client, account)
        verdict, counted = decide(self._attempt(ids), now)
        if verdict.allowed:
            self._store(ids, counted)
        return verdict

    def succeeded(self, own: str, client: str, now: datetime, account: str = "a") -> None:
        ids = self._ids(own, client, account)
        self._store(ids, forgive(self._attempt(ids), now))

    def failures(self, bucket_id: str, now: datetime, limits: Limits = ACCOUNT) -> int:
        return live(self.buckets.get(bucket_id, Bucket()), limits, now).failures

    def _ids(self, own: str, client: str, account: str) -> tuple[str, str, str]:
        return f"{own}:{account}", f"client:{client}", f"hour:{account}"

    def _attempt(self, ids: tuple[str, str, str]) -> Attempt:
        trusted = not ids[0].startswith(UNTRUSTED)
        return Attempt(*(self.buckets.get(i, Bucket()) for i in ids), trusted=trusted)

    def _store(self, ids: tuple[str, str, str], attempt: Attempt) -> None:
        self.buckets.update(zip(ids, (attempt.own, attempt.client, attempt.hour), strict=True))


def fail(store: Store, times: int, own: str, client: str, now: datetime) -> list[Verdict]:
    return [store.begin(own, client, now) for _ in range(times)]


def test_delays_start_after_four_failures_and_double_up_to_eight_seconds() -> None:
    verdicts = fail(Store(), ACCOUNT_LOCK_AT, UNTRUSTED, ATTACKER, START)

    assert all(v.allowed for v in verdicts)
    assert [v.delay_s for v in verdicts] == [0, 0, 0, 0, 0.5, 1, 2, 4, 8, 8]


def test_after_ten_failures_untrusted_attempts_are_refused_until_the_window_ends() -> None:
    store = Store()
    fail(store, ACCOUNT_LOCK_AT, UNTRUSTED, ATTACKER, START)

    refused = store.begin(UNTRUSTED, "192.0.2.1", START + timedelta(minutes=5))

    assert refused == Verdict(allowed=False, retry_after_s=600)


def test_a_lock_is_released_when_the_window_ends() -> None:
    store = Store()
    fail(store, ACCOUNT_LOCK_AT, UNTRUSTED, ATTACKER, START)

    just_before = START + ACCOUNT_WINDOW - timedelta(seconds=1)
    assert store.begin(UNTRUSTED, ATTACKER, just_before) == Verdict(False, retry_after_s=1)
    assert store.begin(UNTRUSTED, ATTACKER, START + ACCOUNT_WINDOW) == Verdict(allowed=True)


def test_a_refused_attempt_is_not_counted() -> None:
    store = Store()
    fail(store, ACCOUNT_LOCK_AT + 5, UNTRUSTED, ATTACKER, START)

    assert store.failures(UNTRUSTED_A, START) == ACCOUNT_LOCK_AT
    assert store.failures("hour:a", START, HOUR) == ACCOUNT_LOCK_AT
    assert store.failures("client:" + ATTACKER, START, CLIENT) == ACCOUNT_LOCK_AT


def test_an_attacker_cannot_lock_out_a_trusted_device() -> None:
    store = Store()
    fail(store, ACCOUNT_LOCK_AT + 5, UNTRUSTED, ATTACKER, START)

    assert store.begin(DEVICE, CUSTOMER, START) == Verdict(allowed=True)


def test_a_trusted_device_is_locked_by_its_own_failures_only() -> None:
    store = Store()
    fail(store, ACCOUNT_LOCK_AT, DEVICE, CUSTOMER, START)

    assert not store.begin(DEVICE, CUSTOMER, START).allowed
    assert store.begin("another-device", CUSTOMER, START).allowed
    assert store.begin(UNTRUSTED, CUSTOMER, START).allowed


def test_at_100_failures_in_an_hour_every_attempt_on_the_account_is_refused() -> None:
    store = Store()
    devices = [f"device-{n}" for n in range(HOURLY_CAP // ACCOUNT_LOCK_AT)]
    for device in devices:
        assert all(v.allowed for v in fail(store, ACCOUNT_LOCK_AT, device, CUSTOMER, START))
    later = START + timedelta(minutes=30)  # the 15-minute buckets have ended; the hour has not

    assert store.begin(UNTRUSTED, ATTACKER, later) == Verdict(allowed=False, retry_after_s=1800)
    assert not store.begin("a-new-device", CUSTOMER, later).allowed
    assert store.begin(devices[0], CUSTOMER, START + HOUR_WINDOW).allowed


def test_an_address_is_slowed_after_20_failures_and_locked_at_100_across_accounts() -> None:
    store = Store()

    verdicts = [
        store.begin(UNTRUSTED, ATTACKER, START, account=f"account-{n}")
        for n in range(CLIENT_LOCK_AT + 1)
    ]

    assert [v.delay_s for v in verdicts[:CLIENT_DELAY_FROM]] == [0.0] * CLIENT_DELAY_FROM
    assert {v.delay_s for v in verdicts[CLIENT_DELAY_FROM:CLIENT_LOCK_AT]} == {1.0}
    assert verdicts[CLIENT_LOCK_AT] == Verdict(allowed=False, retry_after_s=900)
    assert store.begin(UNTRUSTED, CUSTOMER, START, account="account-0") == Verdict(allowed=True)


def test_a_stuffer_behind_a_nat_never_locks_its_neighbours_trusted_devices_out() -> None:
    store = Store()
    for n in range(CLIENT_LOCK_AT):
        store.begin(UNTRUSTED, ATTACKER, START, account=f"account-{n}")
    assert not store.begin(UNTRUSTED, ATTACKER, START, account="neighbour").allowed

    assert store.begin(DEVICE, ATTACKER, START, account="neighbour") == Verdict(allowed=True)
    store.succeeded(DEVICE, ATTACKER, START, account="neighbour")
    assert store.failures("client:" + ATTACKER, START, CLIENT) == CLIENT_LOCK_AT


def test_failures_on_a_trusted_device_are_not_counted_against_the_address() -> None:
    store = Store()

    fail(store, ACCOUNT_LOCK_AT, DEVICE, CUSTOMER, START)

    assert store.failures("client:" + CUSTOMER, START, CLIENT) == 0
    assert not store.begin(DEVICE, CUSTOMER, START).allowed


def test_the_right_password_resets_the_untrusted_bucket_and_forgives_the_attempt() -> None:
    store = Store()
    fail(store, 7, UNTRUSTED, CUSTOMER, START)

    store.succeeded(UNTRUSTED, CUSTOMER, START)

    assert store.failures(UNTRUSTED_A, START) == 0
    assert store.failures("hour:a", START, HOUR) == 6
    assert store.failures("client:" + CUSTOMER, START, CLIENT) == 6
    assert store.begin(UNTRUSTED, CUSTOMER, START) == Verdict(allowed=True)


def test_success_on_a_trusted_device_leaves_an_untrusted_lock_in_place() -> None:
    store = Store()
    fail(store, ACCOUNT_LOCK_AT, UNTRUSTED, ATTACKER, START)
    store.begin(DEVICE, CUSTOMER, START)

    store.succeeded(DEVICE, CUSTOMER, START)

    assert not store.begin(UNTRUSTED, ATTACKER, START).allowed
    assert store.failures("device:a", START) == 0


GAPS = st.one_of(st.integers(0, 60), st.integers(0, 1200))  # seconds since the last burst
ATTACK = st.lists(
    st.tuples(
        GAPS,
        st.sampled_from(["attacker", "customer fails", "customer succeeds"]),
        st.sampled_from(["203.0.113.1", "203.0.113.2", "192.0.2.50"]),
        st.integers(min_value=1, max_value=20),  # attempts in the burst
    ),
    max_size=200,
)


def most_in_any_hour(times: list[datetime]) -> int:
    return max((bisect_left(times, t + HOUR_WINDOW) - i for i, t in enumerate(times)), default=0)


@settings(max_examples=300, deadline=None)
@given(ATTACK)
def test_an_attacker_never_reaches_the_hourly_cap_nor_locks_out_a_trusted_device(
    steps: list[tuple[int, str, str, int]],
) -> None:
    store = Store()
    now = START
    counted: list[datetime] = []
    for gap_s, actor, client, burst in steps:
        now += timedelta(seconds=gap_s)
        for _ in range(burst):
            if actor == "attacker":
                if store.begin(UNTRUSTED, client, now).allowed:
                    counted.append(now)
                continue
            under_own_lock = store.failures("device:a", now) >= ACCOUNT_LOCK_AT
            verdict = store.begin(DEVICE, CUSTOMER, now)
            assert verdict.allowed or under_own_lock
            if verdict.allowed and actor == "customer succeeds":
                store.succeeded(DEVICE, CUSTOMER, now)

    assert most_in_any_hour(counted) <= HOURLY_CAP


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=20), st.integers(min_value=0, max_value=30)),
        max_size=500,
    )
)
def test_no_more_than_100_failures_count_in_an_hour_window_whatever_the_devices(
    steps: list[tuple[int, int]],
) -> None:
    store = Store()
    now = START
    window_start: datetime | None = None
    in_window = 0
    for gap_s, device in steps:
        now += timedelta(seconds=gap_s)
        if window_start is not None and now >= window_start + HOUR_WINDOW:
            window_start, in_window = None, 0
        under_own_lock = store.failures(f"device-{device}:a", now) >= ACCOUNT_LOCK_AT

        if store.begin(f"device-{device}", CUSTOMER, now).allowed:
            window_start = window_start or now
            in_window += 1
        else:
            assert under_own_lock or in_window == HOURLY_CAP
        assert in_window <= HOURLY_CAP


@given(
    own=st.integers(0, ACCOUNT_LOCK_AT - 1),
    client=st.integers(0, CLIENT_LOCK_AT - 1),
    hour=st.integers(0, HOURLY_CAP - 1),
    trusted=st.booleans(),
)
def test_an_attempt_withdrawn_because_the_server_was_busy_counts_nothing(
    own: int, client: int, hour: int, trusted: bool
) -> None:
    """A sign-in whose password could not be hashed (503) leaves the buckets as they were:
    retrying under load never locks an honest person out."""
    before = Attempt(
        own=Bucket(own, START if own else None),
        client=Bucket(client, START if client else None),
        hour=Bucket(hour, START if hour else None),
        trusted=trusted,
    )
    now = START + timedelta(minutes=1)
    verdict, counted = decide(before, now)
    assert verdict.allowed

    after = withdraw(counted, now)

    assert after.own.failures == own
    assert after.client.failures == client
    assert after.hour.failures == hour

"""Login abuse controls (OWASP ASVS 5.0, 6.3): progressive delays and temporary locks.

Failures are counted in buckets, each a fixed window that starts at its first failure:

- an account's untrusted attempts, and apart from them each trusted device of the account
  (OWASP's "device cookies"), so an attacker who locks the first never locks the customer
  out of their own device;
- a client address, across all accounts (credential stuffing), for untrusted attempts
  only;
- an account's hour, across all of its buckets (ASVS: at most 100 failures per hour).

Following OWASP's guidance, lock-out is per account and device, never per address alone:
a carrier NAT puts thousands of honest people behind one address, and anyone among them
can fill its bucket. So the address bucket slows and then locks only untrusted attempts
(no device token: the credential stuffer's case); an attempt from a trusted device, and a
re-authentication inside a session (counted on the device the session was issued to),
neither counts there nor waits for it. Counting distinct accounts per address was the
other choice; it would still let a stuffer behind the NAT lock its neighbours out.

An attempt counts as a failure when it begins, so concurrent attempts cannot overrun a
cap; the right password forgives it. The caller passes `now`.
"""

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from math import ceil

ACCOUNT_WINDOW = timedelta(minutes=15)
ACCOUNT_DELAY_FROM = 4  # failures before the first delay
ACCOUNT_FIRST_DELAY_S = 0.5  # doubles with each further failure
ACCOUNT_MAX_DELAY_S = 8.0
ACCOUNT_LOCK_AT = 10

CLIENT_WINDOW = timedelta(minutes=15)
CLIENT_DELAY_FROM = 20
CLIENT_DELAY_S = 1.0
CLIENT_LOCK_AT = 100

HOUR_WINDOW = timedelta(hours=1)
HOURLY_CAP = 100


@dataclass(frozen=True)
class Bucket:
    """Failures counted in the window that began with the first of them."""

    failures: int = 0
    window_started_at: datetime | None = None


@dataclass(frozen=True)
class Limits:
    window: timedelta
    lock_at: int
    delay_s: Callable[[int], float]  # given the failures so far


@dataclass(frozen=True)
class Attempt:
    """The buckets one login attempt counts in."""

    own: Bucket  # the account's untrusted bucket, or the trusted device's
    client: Bucket
    hour: Bucket
    trusted: bool = False  # from a trusted device: the address bucket does not apply


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    delay_s: float = 0.0  # how long to wait before answering
    retry_after_s: int | None = None  # until the lock ends, when refused


def _progressive_delay(failures: int) -> float:
    if failures < ACCOUNT_DELAY_FROM:
        return 0.0
    doublings = min(failures - ACCOUNT_DELAY_FROM, 8)  # past the cap already; no overflow
    return min(ACCOUNT_MAX_DELAY_S, ACCOUNT_FIRST_DELAY_S * 2.0**doublings)


def _client_delay(failures: int) -> float:
    return CLIENT_DELAY_S if failures >= CLIENT_DELAY_FROM else 0.0


def _no_delay(failures: int) -> float:
    return 0.0


ACCOUNT = Limits(ACCOUNT_WINDOW, ACCOUNT_LOCK_AT, _progressive_delay)
CLIENT = Limits(CLIENT_WINDOW, CLIENT_LOCK_AT, _client_delay)
HOUR = Limits(HOUR_WINDOW, HOURLY_CAP, _no_delay)


def live(bucket: Bucket, limits: Limits, now: datetime) -> Bucket:
    """The bucket as it stands at `now`: empty once its window has ended."""
    start = bucket.window_started_at
    if start is None or now >= start + limits.window:
        return Bucket()
    return bucket


def decide(attempt: Attempt, now: datetime) -> tuple[Verdict, Attempt]:
    """Whether the attempt may go on, and the buckets to store: with the attempt counted
    as a failure when it may, unchanged when it is refused."""
    checked = _checked(attempt)
    locks = [s for b, limits in checked if (s := _locked_for(b, limits, now)) is not None]
    if locks:
        return Verdict(allowed=False, retry_after_s=max(locks)), attempt
    delay = max(limits.delay_s(live(b, limits, now).failures) for b, limits in checked)
    counted = Attempt(
        own=_counted(attempt.own, ACCOUNT, now),
        client=attempt.client if attempt.trusted else _counted(attempt.client, CLIENT, now),
        hour=_counted(attempt.hour, HOUR, now),
        trusted=attempt.trusted,
    )
    return Verdict(allowed=True, delay_s=delay), counted


def forgive(attempt: Attempt, now: datetime) -> Attempt:
    """After the right password: its own bucket starts afresh, the others drop the attempt."""
    return Attempt(
        own=Bucket(),
        client=attempt.client if attempt.trusted else _uncounted(attempt.client, CLIENT, now),
        hour=_uncounted(attempt.hour, HOUR, now),
        trusted=attempt.trusted,
    )


def withdraw(attempt: Attempt, now: datetime) -> Attempt:
    """An attempt the server could not judge (too busy to hash the password): every
    bucket drops it, as if it had never begun."""
    own = _uncounted(attempt.own, ACCOUNT, now)
    client = attempt.client if attempt.trusted else _uncounted(attempt.client, CLIENT, now)
    return replace(attempt, own=own, client=client, hour=_uncounted(attempt.hour, HOUR, now))


def _checked(attempt: Attempt) -> tuple[tuple[Bucket, Limits], ...]:
    if attempt.trusted:
        return ((attempt.own, ACCOUNT), (attempt.hour, HOUR))
    return ((attempt.own, ACCOUNT), (attempt.client, CLIENT), (attempt.hour, HOUR))


def _locked_for(bucket: Bucket, limits: Limits, now: datetime) -> int | None:
    """Whole seconds until the bucket's lock ends, or None when it is not locked."""
    current = live(bucket, limits, now)
    start = current.window_started_at
    if start is None or current.failures < limits.lock_at:
        return None
    return max(1, ceil((start + limits.window - now).total_seconds()))


def _counted(bucket: Bucket, limits: Limits, now: datetime) -> Bucket:
    current = live(bucket, limits, now)
    return Bucket(current.failures + 1, current.window_started_at or now)


def _uncounted(bucket: Bucket, limits: Limits, now: datetime) -> Bucket:
    current = live(bucket, limits, now)
    if current.failures <= 1:
        return Bucket()
    return replace(current, failures=current.failures - 1)

"""Which actions are rate limited, in which buckets: registration, e-mail changes,
booking, password-reset requests and tracking lookups of unknown waybills
(domain/rate_limits.py has the rule).

Bucket names start with the deployment's topic prefix, so systems sharing one database
(tests, staging beside production) never count against each other. Client addresses are
hashed only to keep them out of plain sight in the table; that is not a secret.
"""

import hashlib
import threading
from datetime import datetime, timedelta
from math import ceil

from domain import rate_limits
from domain.errors import TooManyAttempts
from domain.rate_limits import Limit
from infra.postgres.rate_limits import RateBuckets
from infra.settings import Settings

MAX_REMEMBERED_LOCKS = 10_000


class RateLimits:
    def __init__(self, buckets: RateBuckets, settings: Settings) -> None:
        self._buckets = buckets
        self._prefix = settings.topic_prefix
        s = settings
        self._registration = Limit(
            s.limit_registrations_per_address_hour, rate_limits.REGISTRATION_WINDOW
        )
        self._registration_email = Limit(
            s.limit_registrations_per_email_hour, rate_limits.REGISTRATION_WINDOW
        )
        self._booking = Limit(s.limit_bookings_per_account_minute, rate_limits.BOOKING_WINDOW)
        self._booking_address = Limit(
            s.limit_bookings_per_address_minute, rate_limits.BOOKING_WINDOW
        )
        self._reset = Limit(
            s.limit_password_resets_per_account_hour, rate_limits.PASSWORD_RESET_WINDOW
        )
        self._reset_address = Limit(
            s.limit_password_resets_per_address_hour, rate_limits.PASSWORD_RESET_WINDOW
        )
        self._misses = Limit(
            s.limit_tracking_misses_per_address_15min, rate_limits.TRACKING_MISS_WINDOW
        )
        self._tracking_locks: dict[str, datetime] = {}
        self._locks_guard = threading.Lock()

    def registration(self, email_key: str, client: str, now: datetime) -> None:
        """`email_key` is the blind index of the address the verification link goes to:
        nobody can fill a stranger's mailbox with registrations."""
        limits = {
            self._name("register-email", email_key): self._registration_email,
            self._name("register", _hashed(client)): self._registration,
        }
        self._take(limits, now)

    def email_change(self, account: str, email_key: str, now: datetime) -> None:
        """A change mails a link to the new address: it shares that address's quota with
        registrations (nobody fills a stranger's mailbox either way), and an account asks
        at most as often as it may ask for password resets."""
        limits = {
            self._name("register-email", email_key): self._registration_email,
            self._name("email-change", account): self._reset,
        }
        self._take(limits, now)

    def booking(self, actor: str, client: str, now: datetime) -> None:
        """`actor` is the signed-in account or the device key that books."""
        limits = {
            self._name("book", actor): self._booking,
            self._name("book-address", _hashed(client)): self._booking_address,
        }
        self._take(limits, now)

    def password_reset(self, user_key: str, client: str, now: datetime) -> None:
        """`user_key` is the blind index of the user id asked for, known or not."""
        limits = {
            self._name("reset", user_key): self._reset,
            self._name("reset-address", _hashed(client)): self._reset_address,
        }
        self._take(limits, now)

    def tracking_locked(self, client: str, now: datetime) -> None:
        """TooManyAttempts while this process knows the address is locked for tracking.
        Memory only: a lookup of a real waybill never waits for the database."""
        until = self._tracking_locks.get(client)
        if until is not None and now < until:
            raise _refused(until, now)

    def tracking_misses(self, client: str, misses: int, now: datetime) -> None:
        """Count lookups of waybills that do not exist; past the limit the address is
        locked for every lookup, or a 429 would say "unknown" as plainly as a 404."""
        decision = self._buckets.take(
            {self._name("track-miss", _hashed(client)): self._misses}, now, misses
        )
        if not decision.allowed:
            until = now + _seconds(decision.retry_after_s)
            with self._locks_guard:
                if len(self._tracking_locks) >= MAX_REMEMBERED_LOCKS:
                    self._tracking_locks.clear()  # forgetting only costs a database look-up
                self._tracking_locks[client] = until
            raise _refused(until, now)

    def _take(self, limits: dict[str, Limit], now: datetime) -> None:
        decision = self._buckets.take(limits, now)
        if not decision.allowed:
            raise _refused(now + _seconds(decision.retry_after_s), now)

    def _name(self, kind: str, key: str) -> str:
        return f"{self._prefix}:{kind}:{key}"


def _hashed(client: str) -> str:
    return hashlib.sha256(client.encode()).hexdigest()


def _seconds(n: int) -> timedelta:
    return timedelta(seconds=n)


def _refused(until: datetime, now: datetime) -> TooManyAttempts:
    wait = max(1, ceil((until - now).total_seconds()))
    return TooManyAttempts(
        f"Too many requests from here; try again in {wait} s.",
        retry_after_s=wait,
        code="rate_limited",
    )

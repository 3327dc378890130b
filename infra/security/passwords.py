"""argon2id password hashing with parameters from settings (at least OWASP's minimum).

Each hash takes a core for tens of milliseconds, so a process runs at most
`argon2_concurrency` at once (by default one less than its cores, at least one: a core
is always left for scans, tracking and the consumers); a request that cannot get a
slot within `argon2_wait_max_s` is answered 503 with Retry-After instead of queueing
without end, and one client cannot take every core.
"""

import os
import secrets
import threading
from collections.abc import Callable
from typing import TypeVar

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from domain.errors import Busy
from infra.settings import Settings

T = TypeVar("T")


class Passwords:
    def __init__(self, settings: Settings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
            type=Type.ID,
        )
        self._slots = threading.BoundedSemaphore(
            settings.argon2_concurrency or max(1, _cores() - 1)
        )
        self._wait_s = settings.argon2_wait_max_s
        # Verifying against this when no account matches costs the same as a real check,
        # so timing does not tell whether a user id exists.
        self._decoy = self._hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        return self._bounded(lambda: self._hasher.hash(password))

    def verify(self, stored_hash: str | None, password: str) -> bool:
        return self._bounded(lambda: self._verify(stored_hash, password))

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._hasher.check_needs_rehash(stored_hash)

    def _verify(self, stored_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash or self._decoy, password) and bool(stored_hash)
        except (VerificationError, InvalidHashError):
            return False

    def _bounded(self, work: Callable[[], T]) -> T:
        if not self._slots.acquire(timeout=self._wait_s):
            raise Busy("The server is busy checking passwords; try again shortly.", retry_after_s=1)
        try:
            return work()
        finally:
            self._slots.release()


def _cores() -> int:
    """The cores this process may run on (its affinity, where the platform tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1

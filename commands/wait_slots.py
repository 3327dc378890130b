"""Slots for reads that wait on a consistency token: a few in all (each holds a worker
thread), and fewer still per client, so one client's stalled tokens cannot take them all
and turn everyone else's read-your-writes into 503s."""

import threading
from collections import Counter


class WaitSlots:
    def __init__(self, total: int, per_client: int) -> None:
        self._total = total
        self._per_client = per_client
        self._held: Counter[str] = Counter()
        self._guard = threading.Lock()

    def acquire(self, client: str) -> str | None:
        """None when a slot is taken (release it after); else which bound refused it:
        "client" or "total"."""
        with self._guard:
            if self._held[client] >= self._per_client:
                return "client"
            if self._held.total() >= self._total:
                return "total"
            self._held[client] += 1
            return None

    def release(self, client: str) -> None:
        with self._guard:
            self._held[client] -= 1
            if self._held[client] <= 0:
                del self._held[client]

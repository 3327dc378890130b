"""Device keys remembered between requests, forgotten the moment one is revoked.

A scanner sends its key with every scan; looking it up each time cost a database round
trip (and a worker thread) per request. Keys found valid are remembered here, and a
listening connection empties the memory whenever `revoke_key` commits its NOTIFY. While
that connection is down (and until it is listening again) nothing is remembered or
trusted: every request asks the database, as before. Unknown keys are never remembered,
so guessing cannot fill the memory.
"""

import logging
import threading
import time
from collections.abc import Callable

import psycopg
from psycopg.conninfo import make_conninfo

from infra.postgres.device_keys import REVOCATIONS, Device, digest

log = logging.getLogger(__name__)
KEYS_KEPT = 10_000
RECONNECT_DELAY_S = 1.0
HEARTBEAT_S = 5.0  # how often the listener checks that its connection still answers
STOP_CHECK_S = 0.25  # how soon close() is noticed
# A silent peer ends the connection within about 10 s instead of TCP's two hours.
DEAD_PEER_DETECTION = {
    "keepalives": "1",
    "keepalives_idle": "5",
    "keepalives_interval": "2",
    "keepalives_count": "3",
    "tcp_user_timeout": "10000",
}


class DeviceKeyCache:
    def __init__(self, database_url: str) -> None:
        self._conninfo = make_conninfo(database_url, **DEAD_PEER_DETECTION)
        self._known: dict[bytes, Device] = {}
        self._epoch = 0  # bumped whenever the memory is emptied
        self._listening = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="key-revocations", daemon=True)
        self._thread.start()

    def authenticate(self, secret: str, look_up: Callable[[str], Device | None]) -> Device | None:
        """The device holding this key: from memory, else by `look_up` (the database)."""
        key = digest(secret)
        with self._lock:
            known = self._known.get(key) if self._listening else None
            epoch = self._epoch
        if known is not None:
            return known
        device = look_up(secret)
        with self._lock:
            # A revocation heard while we asked the database may concern this very key.
            if device is not None and self._listening and self._epoch == epoch:
                if len(self._known) >= KEYS_KEPT:
                    self._known.clear()
                self._known[key] = device
        return device

    def cached(self, secret: str) -> Device | None:
        """The device if this key is remembered (a lookup that needs no I/O)."""
        with self._lock:
            return self._known.get(digest(secret)) if self._listening else None

    def wait_listening(self, timeout: float) -> bool:
        return self._ready.wait(timeout)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(STOP_CHECK_S + 5)

    def _forget_all(self, *, listening: bool) -> None:
        with self._lock:
            self._known.clear()
            self._epoch += 1
            self._listening = listening

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {REVOCATIONS}")
                    # Whatever was revoked while nobody listened is forgotten too.
                    self._forget_all(listening=True)
                    self._ready.set()
                    checked = time.monotonic()
                    while not self._stop.is_set():
                        # A NOTIFY received during the heartbeat is kept by psycopg
                        # and comes out here on the next turn.
                        for _ in conn.notifies(timeout=STOP_CHECK_S, stop_after=1):
                            self._forget_all(listening=True)
                        if time.monotonic() - checked >= HEARTBEAT_S:
                            # A connection can die without a word (a NAT's timeout, a
                            # failover): a round trip now and then finds out, within the
                            # TCP limits set.
                            conn.execute("SELECT 1")
                            checked = time.monotonic()
            except psycopg.Error as error:
                log.warning("key revocation listener lost its connection: %s", error)
            self._forget_all(listening=False)
            self._ready.clear()
            self._stop.wait(RECONNECT_DELAY_S)

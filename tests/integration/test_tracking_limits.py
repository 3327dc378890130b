"""Public tracking and read-your-writes under abuse, in-process against the real database
and broker: enumeration of unknown waybills is limited per address across two API
processes, real waybills never are; consistency tokens name real partitions only, and one
client's stalled waits cannot take every slot."""

import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import psycopg
import pytest

from consumers.registry import projection
from consumers.runner import ProjectionRunner
from domain.waybill import waybill_for
from infra.messaging.relay import Relay
from infra.settings import Settings
from tests.integration.client_address import at
from tests.integration.test_api import booking_body
from tests.integration.test_rate_limits import Api, running
from tests.support import Threads

OFFICE = "198.51.100.30"  # a shop tracking its own parcels
ENUMERATOR = "203.0.113.66"
NEIGHBOUR = "203.0.113.67"


class System:
    """An API process with its relay; the tracking projection starts when the test says."""

    def __init__(self, settings: Settings, stack: ExitStack) -> None:
        self.settings = settings
        self.api: Api = stack.enter_context(running(settings))
        self.stop = threading.Event()
        self.workers = Threads()
        stack.callback(self._join)
        self.workers.start(Relay(self.api.container.shipments, settings).run, self.stop)

    def start_projection(self) -> None:
        self.workers.start(ProjectionRunner(projection("tracking"), self.settings).run, self.stop)

    def book(self) -> tuple[str, str]:
        device = self.api.device("counter")
        answer = self.api.client.post("/v1/shipments", json=booking_body(), headers=device)
        assert answer.status_code == 201, answer.text
        return answer.json()["awb"], answer.json()["consistency_token"]

    def _join(self) -> None:
        self.stop.set()
        self.workers.join(timeout=30)


@pytest.fixture
def limited(settings: Settings) -> Settings:
    # The consistency waits keep their defaults: 16 slots, 2 per client address.
    return settings.model_copy(update={"limit_tracking_misses_per_address_15min": 3})


@pytest.fixture
def system(limited: Settings) -> Iterator[System]:
    with ExitStack() as stack:
        yield System(limited, stack)


def track(api: Api, awb: str, address: str, token: str | None = None) -> Any:
    params = {"consistency_token": token} if token else {}
    return api.client.get(f"/v1/track/{awb}", params=params, headers=at(address))


def test_enumeration_locks_its_address_across_processes_while_a_shop_is_never_limited(
    system: System, limited: Settings
) -> None:
    system.start_projection()
    awb, token = system.book()
    assert track(system.api, awb, OFFICE, token).status_code == 200
    unknown = [waybill_for(900_000 + n) for n in range(10)]

    assert {track(system.api, awb, OFFICE).status_code for _ in range(50)} == {200}
    assert [track(system.api, u, ENUMERATOR).status_code for u in unknown[:4]] == [404] * 3 + [429]
    refused = track(system.api, awb, ENUMERATOR)
    assert refused.status_code == 429, "once locked, a real waybill must not tell 429 means unknown"
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 0 < int(refused.headers["Retry-After"]) <= 900
    assert track(system.api, awb, OFFICE).status_code == 200
    assert track(system.api, unknown[5], OFFICE).status_code == 404
    with running(limited) as other_process:
        assert track(other_process, unknown[6], ENUMERATOR).status_code == 429
        assert track(other_process, awb, ENUMERATOR).status_code == 429
        assert track(other_process, awb, OFFICE).status_code == 200
        batch = other_process.client.get(
            "/v1/track", params={"awb": ",".join(unknown[:4])}, headers=at(NEIGHBOUR)
        )
        assert batch.status_code == 429, "four unknown waybills in one batch are four misses"


def test_a_real_waybills_lookup_never_waits_on_the_rate_buckets(system: System) -> None:
    """With the buckets' table locked by another transaction, any lookup that touched it
    would wait for the lock; a real waybill's must not."""
    system.start_projection()
    awb, token = system.book()
    assert track(system.api, awb, OFFICE, token).status_code == 200
    locked, holder = threading.Event(), Threads()
    holder.start(hold_lock, system.settings.require_database_url(), locked, 3.0)
    assert locked.wait(10)
    started = time.monotonic()
    answers = [track(system.api, awb, OFFICE).status_code for _ in range(20)]
    elapsed = time.monotonic() - started
    holder.join()

    assert answers == [200] * 20
    assert elapsed < 2, "a lookup waited for the lock on the rate buckets"


def hold_lock(url: str, locked: threading.Event, seconds: float) -> None:
    with psycopg.connect(url) as conn:
        conn.execute("LOCK TABLE rate_buckets IN ACCESS EXCLUSIVE MODE")
        locked.set()
        time.sleep(seconds)
        conn.rollback()


def test_a_token_naming_a_partition_that_does_not_exist_is_refused_at_once(
    system: System, limited: Settings
) -> None:
    awb, _ = system.book()
    for token in ("shipments:9999=1", f"shipments:{limited.kafka_partitions}=1"):
        started = time.monotonic()
        answer = track(system.api, awb, OFFICE, token)
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["code"] == "unknown_partition"
        assert time.monotonic() - started < 2


def test_sixteen_stalled_waits_from_one_client_leave_slots_for_everyone_else(
    system: System,
) -> None:
    awb, token = system.book()  # not visible yet: the projection has not started
    answers: dict[str, list[Any]] = {ENUMERATOR: [], NEIGHBOUR: []}
    waiting = Threads()
    for _ in range(16):
        waiting.start(lambda: answers[ENUMERATOR].append(track(system.api, awb, ENUMERATOR, token)))
    time.sleep(1.0)  # the sixteen have taken what slots they may
    waiting.start(lambda: answers[NEIGHBOUR].append(track(system.api, awb, NEIGHBOUR, token)))
    time.sleep(0.5)
    system.start_projection()
    waiting.join(timeout=60)

    (neighbour,) = answers[NEIGHBOUR]
    assert neighbour.status_code == 200, neighbour.text
    statuses = sorted(a.status_code for a in answers[ENUMERATOR])
    assert statuses == [200] * 2 + [429] * 14
    refused = [a for a in answers[ENUMERATOR] if a.status_code == 429]
    assert {a.json()["error"]["code"] for a in refused} == {"too_many_waits"}

"""The event backbone: the outbox relay's throughput to Kafka, and the delay from a
command returning to its scan being visible in the tracking read model."""

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from report import Detail, Figure, latency_detail, per_second
from workload import book_shipments, scan, store_scans

from commands.shipments import Shipments
from consumers.registry import projection
from consumers.runner import ProjectionRunner
from infra.messaging.kafka import ensure_topics, topic_for
from infra.messaging.partitioning import parse_token, token_for
from infra.messaging.relay import Relay
from infra.runtime.bootstrap import build_applications
from infra.settings import Settings
from projections.tracking_queries import positions

SECTION_RELAY = "relay"
SECTION_E2E = "end to end"
RELAY_TIMEOUT_S = 120.0
READY_TIMEOUT_S = 60.0
DRAIN_TIMEOUT_S = 30.0
POLL_INTERVAL_S = 0.002
JOIN_TIMEOUT_S = 30.0


def relay_throughput(settings: Settings, bookings: int, scans: int) -> Figure:
    """Relay.relay_once() from a stored backlog until it has nothing left to publish."""
    shipments = build_applications(settings).shipments
    try:
        store_scans(shipments, book_shipments(shipments, bookings), scans)
        stored = shipments.recorder.max_notification_id() or 0
        relay = Relay(shipments, settings)
        ensure_topics(settings, [relay.topic])
        with psycopg.connect(settings.require_database_url(), autocommit=True) as conn:
            relay.conn = conn
            timing = _relay_all(relay, stored)
            if relay.producer is not None:
                relay.producer.flush(10)
    finally:
        shipments.close()
    detail: Detail = {
        "stored": stored,
        "published": relay.published,
        "calls": timing.calls,
        "batch_size": settings.relay_batch_size,
        "partitions": settings.kafka_partitions,
        "seconds": round(timing.seconds, 3),
        "first_call_s": round(timing.first_call, 3),
        "after_first_events_per_s": per_second(
            relay.published - timing.first_published, timing.seconds - timing.first_call
        ),
    }
    rate = per_second(relay.published, timing.seconds)
    return Figure(SECTION_RELAY, "relay_once until idle", rate, "events/s", detail)


@dataclass(frozen=True)
class RelayTiming:
    calls: int
    seconds: float
    first_call: float  # includes starting the producer (broker metadata, idempotent id)
    first_published: int


def _relay_all(relay: Relay, stored: int) -> RelayTiming:
    """Call relay_once until it returns False (bounded by count and time)."""
    most = stored // relay.settings.relay_batch_size + 20
    began = time.perf_counter()
    relay.relay_once()
    first_call, first_published = time.perf_counter() - began, relay.published
    calls = 1
    while calls < most and time.perf_counter() - began < RELAY_TIMEOUT_S:
        calls += 1
        if not relay.relay_once():
            break
    return RelayTiming(calls, time.perf_counter() - began, first_call, first_published)


@dataclass
class Watched:
    """Scans waiting to show up in tracking_positions: (partition, notification id, t0)."""

    pending: list[tuple[int, int, float]] = field(default_factory=list)
    delays: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, partition: int, notification_id: int, returned_at: float) -> None:
        with self.lock:
            self.pending.append((partition, notification_id, returned_at))

    def settle(self, applied: dict[int, int], seen_at: float) -> None:
        with self.lock:
            waiting = []
            for partition, nid, returned_at in self.pending:
                if applied.get(partition, 0) >= nid:
                    self.delays.append(seen_at - returned_at)
                else:
                    waiting.append((partition, nid, returned_at))
            self.pending = waiting

    def waiting(self) -> int:
        with self.lock:
            return len(self.pending)


def end_to_end(settings: Settings, bookings: int, rate: float, seconds: float) -> Figure:
    """Scans one at a time at `rate`/s with the relay and the tracking runner running."""
    shipments = build_applications(settings).shipments
    try:
        awbs = book_shipments(shipments, bookings)
        ensure_topics(settings, [topic_for(settings, "shipments")])  # before the runner subscribes
        runner = ProjectionRunner(projection("tracking"), settings)
        watched = Watched()
        with _running(Relay(shipments, settings), runner):
            ready = _wait_for(lambda: runner.applied >= 2 * bookings, READY_TIMEOUT_S)
            if not ready:
                raise TimeoutError(f"the bookings were not projected within {READY_TIMEOUT_S} s")
            with watching(settings, watched):
                sent = _send_paced(shipments, awbs, watched, settings, rate, seconds)
                _wait_for(lambda: watched.waiting() == 0, DRAIN_TIMEOUT_S)
    finally:
        shipments.close()
    return _delay_figures(watched, sent, rate)


def _delay_figures(watched: Watched, sent: int, rate: float) -> Figure:
    detail: Detail = {"scans": sent, "seen": len(watched.delays), "rate_per_s": rate}
    detail |= {"poll_ms": POLL_INTERVAL_S * 1000, **latency_detail(watched.delays)}
    name = "command returned -> visible in tracking"
    return Figure(SECTION_E2E, name, float(detail["p50_ms"]), "ms (p50)", detail)


def _send_paced(
    shipments: Shipments,
    awbs: list[str],
    watched: Watched,
    settings: Settings,
    rate: float,
    seconds: float,
) -> int:
    total = int(rate * seconds)
    began = time.perf_counter()
    for i in range(total):
        time.sleep(max(0.0, began + i / rate - time.perf_counter()))
        _, written = shipments.record_scan(awbs[i % len(awbs)], scan(i), datetime.now(UTC))
        returned_at = time.perf_counter()
        _, wanted = parse_token(token_for("shipments", written, settings.kafka_partitions))
        for partition, notification_id in wanted.items():
            watched.add(partition, notification_id, returned_at)
    return total


@contextlib.contextmanager
def _running(*workers: Any) -> Iterator[None]:
    """Run each worker's run(stop) in a thread; stop and join them on the way out."""
    stop = threading.Event()
    threads = [threading.Thread(target=w.run, args=(stop,), daemon=True) for w in workers]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(JOIN_TIMEOUT_S)


@contextlib.contextmanager
def watching(settings: Settings, watched: Watched) -> Iterator[None]:
    """Poll tracking_positions (what read-your-writes waits on) every 2 ms."""
    stop = threading.Event()
    topic = topic_for(settings, "shipments")
    conn = psycopg.connect(settings.require_database_url(), autocommit=True)

    def poll() -> None:
        while not stop.wait(POLL_INTERVAL_S):
            applied = positions(conn, topic)
            watched.settle(applied, time.perf_counter())

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(JOIN_TIMEOUT_S)
        conn.close()


def _wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()

"""Background workers for integration tests: a relay, runner or sender on a thread, and a
plain reader of a topic."""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from confluent_kafka import Consumer

from infra.messaging.kafka import consumer_config, topic_for
from infra.settings import Settings
from tests.support import Threads


@contextmanager
def running(worker: Any) -> Iterator[threading.Event]:
    """Runs `worker.run(stop)` on a thread until the block ends; yields the stop event.
    The worker must stop within 30 s once told to, and an exception it raised fails the
    test when the block ends (a worker that died mid-test is a failure, not a quiet pass)."""
    stop = threading.Event()
    threads = Threads()
    threads.start(worker.run, stop)
    try:
        yield stop
    finally:
        stop.set()
        threads.join(timeout=30)


def read_topic(settings: Settings, expected: int, timeout: float = 60) -> list[Any]:
    consumer = Consumer(consumer_config(settings, "test-reader"))
    consumer.subscribe([topic_for(settings, "shipments")])
    messages: list[Any] = []
    deadline = time.monotonic() + timeout
    while len(messages) < expected and time.monotonic() < deadline:
        messages += [m for m in consumer.consume(500, 0.5) if m.error() is None]
    consumer.close()
    return messages

"""The outbox relay, against the real event store and the real broker."""

import json
import threading
import time
from collections import defaultdict
from uuid import UUID

import psycopg
import pytest
from confluent_kafka import Consumer, TopicPartition

from commands.shipments import Shipments
from consumers.registry import projection
from consumers.runner import ProjectionRunner, group_id
from consumers.verify import verify
from infra.messaging.kafka import consumer_config, topic_for
from infra.messaging.partitioning import partition_for
from infra.messaging.relay import Relay
from infra.runtime.bootstrap import build_applications
from infra.settings import Settings
from tests.integration.workers import read_topic, running
from tests.support import BOOKED_AT, LATER, book_and_scan, booking, transit_scan, wait_until


def test_every_event_reaches_its_topic_keyed_ordered_and_labelled(settings: Settings) -> None:
    shipments = build_applications(settings).shipments
    book_and_scan(shipments, 5, rounds=4)
    stored = shipments.recorder.max_notification_id()
    with running(Relay(shipments, settings)):
        messages = read_topic(settings, expected=stored or 0)

    assert len(messages) == stored == 5 * 2 + 5 * 4  # booked + waybill issued, then scans
    versions: dict[bytes, list[int]] = defaultdict(list)
    for message in messages:
        headers = {k: v.decode() for k, v in message.headers()}
        body = json.loads(message.value())
        assert set(headers) == {
            "event_type",
            "schema_version",
            "source_application",
            "notification_id",
            "previous_notification_id",
            "aggregate_version",
            "timestamp",
        }
        assert headers["event_type"] == body["type"]
        assert headers["source_application"] == "shipments"
        assert message.key().decode() == body["aggregate_id"]
        expected_partition = partition_for(UUID(body["aggregate_id"]), settings.kafka_partitions)
        assert message.partition() == expected_partition
        versions[message.key()].append(body["aggregate_version"])
    assert sorted(int(dict(m.headers())["notification_id"]) for m in messages) == list(
        range(1, (stored or 0) + 1)
    )
    for aggregate_versions in versions.values():  # per-aggregate order, end to end
        assert aggregate_versions == list(range(1, len(aggregate_versions) + 1))


def test_only_one_relay_per_application_is_active(settings: Settings) -> None:
    shipments = build_applications(settings).shipments
    first, second = (
        Relay(shipments, settings),
        Relay(build_applications(settings).shipments, settings),
    )
    with running(first) as stop_first:
        shipments.book(booking(1), actor="key_test", now=BOOKED_AT)
        assert wait_until(lambda: first.published == 2, timeout=30)
        with running(second):
            shipments.book(booking(2), actor="key_test", now=BOOKED_AT)
            assert wait_until(lambda: first.published == 4, timeout=30)
            time.sleep(1.5)  # the standby polls the lock every second
            assert second.published == 0
            stop_first.set()
            assert wait_until(lambda: first.conn is not None and first.conn.closed, timeout=30)
            shipments.book(booking(3), actor="key_test", now=BOOKED_AT)
            assert wait_until(lambda: second.published == 2, timeout=30)  # the standby took over
    assert first.published == 4


def test_republished_events_do_not_change_the_read_model(
    settings: Settings, database_url: str
) -> None:
    shipments = build_applications(settings).shipments
    book_and_scan(shipments, 10, rounds=5)
    stored = shipments.recorder.max_notification_id() or 0
    relay = Relay(shipments, settings)
    runner = ProjectionRunner(projection("tracking"), settings)
    with running(relay), running(runner):
        assert wait_until(lambda: runner.applied == stored, timeout=60)
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(
                "UPDATE relay_positions SET notification_id = 0"
            )  # as if the position was lost
        assert wait_until(lambda: runner.skipped >= stored, timeout=60)
    assert runner.applied == stored
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert verify(conn, projection("tracking"), [shipments]) == []


def skip_deliveries(settings: Settings, offset: int, partitions: list[int] | None = None) -> None:
    """As if the broker had moved this group past messages it never delivered."""
    skipper = Consumer(consumer_config(settings, group_id(settings, projection("tracking"), 1)))
    topic = topic_for(settings, "shipments")
    chosen = range(settings.kafka_partitions) if partitions is None else partitions
    skipper.commit(offsets=[TopicPartition(topic, p, offset) for p in chosen], asynchronous=False)
    skipper.close()


@pytest.mark.parametrize(
    "skipped_to",
    [3, 10**6],
    ids=["holes followed by later messages", "holes at the end of every partition"],
)
def test_messages_the_broker_never_delivered_are_read_again(
    settings: Settings, database_url: str, skipped_to: int
) -> None:
    shipments = build_applications(settings).shipments
    book_and_scan(shipments, 10, rounds=3)
    stored = shipments.recorder.max_notification_id() or 0
    relay = Relay(shipments, settings)
    with running(relay):
        assert wait_until(lambda: relay.published == stored, timeout=60)
    skip_deliveries(settings, skipped_to)

    runner = ProjectionRunner(projection("tracking"), settings)
    with running(runner):
        caught_up = wait_until(lambda: runner.applied == stored, timeout=60)

    assert caught_up, f"applied {runner.applied} of {stored}"
    assert runner.gaps >= 1
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert verify(conn, projection("tracking"), [shipments]) == []


def test_a_lost_tail_on_one_partition_is_found_while_the_others_are_busy(
    settings: Settings, database_url: str
) -> None:
    shipments = build_applications(settings).shipments
    awbs = book_and_scan(shipments, 20, rounds=2)
    partition_of = {
        awb: partition_for(shipments.shipment(awb).id, settings.kafka_partitions) for awb in awbs
    }
    lost = partition_of[awbs[0]]
    busy = [awb for awb in awbs if partition_of[awb] != lost]
    relay = Relay(shipments, settings)
    with running(relay):
        stored = shipments.recorder.max_notification_id() or 0
        assert wait_until(lambda: relay.position == stored, timeout=60)
        skip_deliveries(settings, 10**6, [lost])
        lost_head = relay.heads[lost]
        runner = ProjectionRunner(projection("tracking"), settings)
        key = (topic_for(settings, "shipments"), lost)
        writing = threading.Event()
        with running(runner):
            with running(BusyWriter(shipments, busy, writing)):
                assert wait_until(writing.is_set, timeout=30)
                recovered = wait_until(lambda: runner.positions().get(key, 0) == lost_head, 30)
                still_busy = runner.applied
                assert wait_until(lambda: runner.applied > still_busy, timeout=10)
            stored = shipments.recorder.max_notification_id() or 0
            assert wait_until(lambda: max(runner.positions().values()) == stored, timeout=30)

    assert recovered, "the lost tail was not read again while other partitions were busy"
    assert runner.gaps >= 1
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert verify(conn, projection("tracking"), [shipments]) == []


class BusyWriter:
    """Scans the given shipments every 50 ms until stopped."""

    def __init__(self, shipments: Shipments, awbs: list[str], started: threading.Event) -> None:
        self.shipments, self.awbs, self.started = shipments, awbs, started

    def run(self, stop: threading.Event) -> None:
        step = 10
        while not stop.is_set():
            self.shipments.record_scans([(awb, transit_scan(step)) for awb in self.awbs], LATER)
            self.started.set()
            step += 1
            stop.wait(0.05)


def test_the_relay_wakes_when_an_event_is_committed(settings: Settings) -> None:
    """With its fallback poll and broker check a minute away, only the commit's NOTIFY
    can make the idle relay publish within seconds."""
    patient = settings.model_copy(
        update={"relay_fallback_poll_s": 60, "relay_check_interval_s": 60}
    )
    shipments = build_applications(patient).shipments
    relay = Relay(shipments, patient)
    with running(relay):
        shipments.book(booking(1), actor="key_test", now=BOOKED_AT)
        assert wait_until(lambda: relay.published == 2, timeout=30)
        time.sleep(1.0)  # idle now, waiting for news
        shipments.book(booking(2), actor="key_test", now=BOOKED_AT)
        assert wait_until(lambda: relay.published == 4, timeout=15, interval=0.05)

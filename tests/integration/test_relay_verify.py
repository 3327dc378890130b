"""`jalur relay verify`: clean on what the relay published (one copy, a republish onto a
broker that kept its data, a republish after the broker lost it), and exact about each
mistake in a topic written by hand."""

import logging
from uuid import UUID

import psycopg
import pytest
from confluent_kafka import Producer

from commands.shipments import Shipments
from infra.messaging.kafka import ensure_topics, producer_config, topic_for
from infra.messaging.partitioning import partition_for
from infra.messaging.relay import Relay
from infra.messaging.relay_verify import verify_relay
from infra.postgres import publications
from infra.runtime.bootstrap import build_applications
from infra.runtime.embedded import EmbeddedBroker
from infra.settings import Settings
from tests.integration.conftest import make_settings
from tests.integration.workers import running
from tests.support import book_and_scan, run_jalur, wait_until


def verified(shipments: Shipments, settings: Settings) -> list[str]:
    with psycopg.connect(settings.require_database_url(), autocommit=True) as conn:
        report = verify_relay(shipments, settings, conn, quiet_s=2.0)
    return [str(finding) for finding in report.findings]


def published(relay: Relay, count: int) -> bool:
    return relay.position == count


def booked_and_scanned(settings: Settings) -> tuple[Shipments, int]:
    """A fresh store of 10 shipments with 2 scans each; its newest notification id."""
    shipments = build_applications(settings).shipments
    book_and_scan(shipments, 10, rounds=2)
    return shipments, shipments.recorder.max_notification_id() or 0


def test_what_the_relay_published_verifies_clean_from_the_command_line(
    settings: Settings,
) -> None:
    shipments, stored = booked_and_scanned(settings)
    relay = Relay(shipments, settings)
    with running(relay):
        assert wait_until(lambda: published(relay, stored), timeout=60)
    result = run_jalur(settings, "relay", "verify", "shipments")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{stored} stored, {stored} acknowledged" in result.stdout


def test_a_second_copy_on_a_broker_that_kept_the_first_verifies_clean(
    settings: Settings, database_url: str
) -> None:
    shipments, stored = booked_and_scanned(settings)
    relay = Relay(shipments, settings)
    with running(relay):
        assert wait_until(lambda: published(relay, stored), timeout=60)
        with psycopg.connect(database_url, autocommit=True) as conn:  # the marker is forgotten
            conn.execute("UPDATE relay_positions SET broker_marker = broker_marker + 1")
        assert wait_until(lambda: len(_copies(database_url)) == 2, timeout=30)
        assert wait_until(lambda: published(relay, stored), timeout=60)
    copies = _copies(database_url)
    assert all(second > first for first, second in zip(*copies, strict=True))
    assert verified(shipments, settings) == []


@pytest.mark.parametrize(("memory_only", "level"), [(False, logging.WARNING), (True, logging.INFO)])
def test_a_republish_after_the_broker_lost_everything_verifies_clean(
    database_url: str,
    own_broker: EmbeddedBroker,
    caplog: pytest.LogCaptureFixture,
    memory_only: bool,
    level: int,
) -> None:
    """An operator is warned of a broker that lost its data, unless it keeps none by design."""
    settings = make_settings(database_url, own_broker.bootstrap)
    settings.kafka_memory_only = memory_only
    caplog.set_level(logging.INFO, logger="infra.messaging.relay")
    shipments, stored = booked_and_scanned(settings)
    relay = Relay(shipments, settings)
    with running(relay):
        assert wait_until(lambda: published(relay, stored), timeout=60)
        own_broker.restart()
        assert wait_until(lambda: len(_copies(database_url)) == 2, timeout=60)
        assert wait_until(lambda: published(relay, stored), timeout=60)
    assert verified(shipments, settings) == []
    republished = [r for r in caplog.records if "from the start" in r.getMessage()]
    assert [r.levelno for r in republished] == [logging.INFO, level]  # first start, then loss


class HandPublisher:
    """Publishes the event store as the relay would, with the mistakes a test asks for."""

    def __init__(self, shipments: Shipments, settings: Settings) -> None:
        self.settings = settings
        self.topic = topic_for(settings, "shipments")
        self.events = shipments.recorder.select_notifications(start=1, limit=10_000)
        ensure_topics(settings, [self.topic])

    def partition(self, notification_id: int) -> int:
        originator = self.events[notification_id - 1].originator_id
        return partition_for(UUID(str(originator)), self.settings.kafka_partitions)

    def predecessor(self, notification_id: int) -> int:
        """The id before this one on its partition, as the log orders them."""
        partition = self.partition(notification_id)
        earlier = [n.id for n in self.events[: notification_id - 1]]
        return max((i for i in earlier if self.partition(i) == partition), default=0)

    def publish(self, order: list[int], mistakes: dict[str, dict[int, int | str]]) -> None:
        producer = Producer(producer_config(self.settings))
        for notification_id in order:
            event = self.events[notification_id - 1]
            previous = mistakes["previous"].get(notification_id, self.predecessor(notification_id))
            headers = {
                "notification_id": str(notification_id),
                "previous_notification_id": str(previous),
            }
            key = mistakes["key"].get(notification_id, str(event.originator_id))
            producer.produce(
                self.topic,
                key=str(key).encode(),
                value=b"{}",
                partition=int(
                    mistakes["partition"].get(notification_id, self.partition(notification_id))
                ),
                headers=list(headers.items()),
            )
        assert producer.flush(30) == 0
        with psycopg.connect(self.settings.require_database_url(), autocommit=True) as conn:
            publications.begin(conn, "shipments", self.settings.kafka_partitions, first=0)
            conn.execute(
                """INSERT INTO relay_positions VALUES ('shipments', %s, 1, %s)""",
                (len(self.events), [0] * self.settings.kafka_partitions),
            )


MISTAKES = ["missing", "reordered", "wrong partition", "wrong key", "wrong predecessor", "re-sent"]


@pytest.mark.parametrize("mistake", MISTAKES)
def test_each_mistake_in_a_topic_is_reported(settings: Settings, mistake: str) -> None:
    shipments = build_applications(settings).shipments
    book_and_scan(shipments, 6, rounds=2)  # 24 events
    hand = HandPublisher(shipments, settings)
    ids = [n.id for n in hand.events]
    victim = next(i for i in ids[4:] if hand.predecessor(i) > 0)
    before = hand.predecessor(victim)
    elsewhere = (hand.partition(victim) + 1) % settings.kafka_partitions
    order = list(ids)
    mistakes: dict[str, dict[int, int | str]] = {"previous": {}, "key": {}, "partition": {}}
    if mistake == "missing":
        order.remove(victim)
    elif mistake == "reordered":
        order.remove(victim)
        order.insert(order.index(before), victim)
    elif mistake == "wrong partition":
        mistakes["partition"][victim] = elsewhere
    elif mistake == "wrong key":
        mistakes["key"][victim] = str(hand.events[0].originator_id)
    elif mistake == "wrong predecessor":
        mistakes["previous"][victim] = before - 1
    else:  # sent again after later events, as after a relay crash: consumers skip it
        order.insert(order.index(victim) + 1, before)
    hand.publish(order, mistakes)

    findings = [finding.split(": ", 1)[1] for finding in verified(shipments, settings)]

    expected = {
        "missing": [f"notification {victim} is missing"],
        "reordered": [f"notification {before} arrived after {victim}"],
        "wrong partition": [
            f"notification {victim} belongs on partition {hand.partition(victim)}",
            f"notification {victim} is missing",
        ],
        "wrong key": [
            f"notification {victim} has another aggregate's key",
            f"notification {victim} is missing",
        ],
        "wrong predecessor": [
            f"notification {victim} names a predecessor other than {before}",
            f"notification {victim} is missing",
        ],
        "re-sent": [],
    }[mistake]
    assert sorted(findings) == sorted(expected)


def _copies(database_url: str) -> list[list[int]]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        return [c.first_offsets for c in publications.publications(conn, "shipments")]

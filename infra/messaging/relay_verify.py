"""An auditor's check of the relay: does the topic hold the event store?

For each publication the relay recorded (infra/postgres/publications.py), read its copy from the
recorded first offsets and compare, partition by partition, with the notification log:
every event the relay says the broker acknowledged is there, on its aggregate's partition,
under its aggregate's key, in notification order, naming its true predecessor. Re-sends
(a batch retried after a crash or a broker error) are allowed: consumers skip them, and
the check judges each event's first appearance. Where a copy ends comes only from the
next copy's start and from the event store, never from broker watermarks.
"""

import itertools
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

from confluent_kafka import Consumer, Message, TopicPartition
from eventsourcing.application import Application
from psycopg import Connection

from infra.messaging.kafka import consumer_config, header_int, topic_for
from infra.messaging.partitioning import partition_for
from infra.postgres import publications
from infra.postgres.publications import Publication
from infra.settings import Settings

PAGE = 10_000


@dataclass(frozen=True)
class Finding:
    publication: int
    partition: int
    notification_id: int
    problem: str

    def __str__(self) -> str:
        return (
            f"publication {self.publication}, partition {self.partition}: "
            f"notification {self.notification_id} {self.problem}"
        )


@dataclass
class RelayReport:
    application: str
    acknowledged: int  # the relay's saved position: everything up to it must be on the topic
    stored: int
    copies_checked: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.findings


@dataclass
class _Log:
    """The event store's view: each id's aggregate, and each partition's ids in order."""

    keys: dict[int, bytes]
    partitions: dict[int, int]
    order: dict[int, list[int]]
    previous: dict[int, int]  # the id before each one on its partition (0 for the first)


def verify_relay(
    app: Application[UUID], settings: Settings, conn: Connection[Any], quiet_s: float = 3.0
) -> RelayReport:
    row = conn.execute(
        "SELECT notification_id FROM relay_positions WHERE application = %s", (app.name,)
    ).fetchone()
    acknowledged = int(row[0]) if row else 0
    log = _read_log(app, settings.kafka_partitions)
    report = RelayReport(app.name, acknowledged, len(log.keys))
    copies = publications.publications(conn, app.name) or [
        Publication(1, [0] * settings.kafka_partitions)
    ]
    for index, copy in enumerate(copies):
        latest = index == len(copies) - 1
        ends = None if latest else copies[index + 1].first_offsets
        ranges = _ranges(copy, ends)
        seen = _read_copy(
            settings, topic_for(settings, app.name), ranges, log, acknowledged, quiet_s
        )
        report.findings += _judge(copy.number, seen, log, acknowledged if latest else 0)
        report.copies_checked += 1
    return report


def _read_log(app: Application[UUID], partitions: int) -> _Log:
    log = _Log({}, {}, defaultdict(list), {})
    start = 1
    while page := app.recorder.select_notifications(start=start, limit=PAGE):
        for notification in page:
            aggregate_id = UUID(str(notification.originator_id))
            partition = partition_for(aggregate_id, partitions)
            log.keys[notification.id] = str(aggregate_id).encode()
            log.partitions[notification.id] = partition
            order = log.order[partition]
            log.previous[notification.id] = order[-1] if order else 0
            order.append(notification.id)
        start = page[-1].id + 1
    return log


def _ranges(copy: Publication, ends: list[int] | None) -> dict[int, tuple[int, int | None]]:
    """Offsets [first, end) of each partition still holding this copy. An older copy whose
    successor starts at or before it was lost with the broker's memory: nothing to read."""
    ranges: dict[int, tuple[int, int | None]] = {}
    for partition, first in enumerate(copy.first_offsets):
        start = max(first, 0)
        if ends is None:
            ranges[partition] = (start, None)
        elif first != publications.UNKNOWN and ends[partition] > first:
            ranges[partition] = (start, ends[partition])
    return ranges


def _read_copy(
    settings: Settings,
    topic: str,
    ranges: dict[int, tuple[int, int | None]],
    log: _Log,
    acknowledged: int,
    quiet_s: float,
) -> dict[int, list[Message]]:
    """Every message of the copy, per partition, up to its end or, for the newest copy,
    until every acknowledged event of the partition has appeared (or nothing comes)."""
    if not ranges:
        return {}
    config = consumer_config(settings, f"{settings.topic_prefix}.relay-verify.{uuid4().hex}")
    consumer = Consumer(config)
    consumer.assign([TopicPartition(topic, p, first) for p, (first, _) in ranges.items()])
    wanted = {p: {i for i in log.order[p] if i <= acknowledged} for p in ranges}
    seen: dict[int, list[Message]] = defaultdict(list)
    done: set[int] = set()
    last_arrival = time.monotonic()
    try:
        while len(done) < len(ranges) and time.monotonic() - last_arrival < quiet_s:
            for message in consumer.consume(1000, 0.2):
                if message.error() is not None:
                    continue
                last_arrival = time.monotonic()
                partition, offset = message.partition(), message.offset()
                assert partition is not None
                assert offset is not None
                end = ranges[partition][1]
                if end is not None and offset >= end:
                    done.add(partition)
                    continue
                seen[partition].append(message)
                wanted[partition].discard(_notification_id(message))
                if _copy_ends_here(offset, end, wanted[partition]):
                    done.add(partition)
    finally:
        consumer.close()
    return seen


def _copy_ends_here(offset: int, end: int | None, still_wanted: set[int]) -> bool:
    """An older copy ends just before the next one starts; the newest, once every
    acknowledged event of the partition has appeared."""
    return not still_wanted if end is None else offset >= end - 1


def _judge(
    publication: int, seen: dict[int, list[Message]], log: _Log, acknowledged: int
) -> list[Finding]:
    findings: list[Finding] = []
    for partition in sorted(set(log.order) | set(seen)):
        expected = log.order.get(partition, [])
        firsts: list[int] = []  # each event's first appearance, in arrival order
        for message in seen.get(partition, []):
            notification_id = _notification_id(message)
            problem = _misplaced(message, notification_id, partition, log)
            if problem:
                findings.append(Finding(publication, partition, notification_id, problem))
            elif not firsts or notification_id > firsts[-1] or notification_id not in firsts:
                firsts.append(notification_id)
        findings += _order_findings(publication, partition, firsts, expected, acknowledged)
    return findings


def _misplaced(message: Message, notification_id: int, partition: int, log: _Log) -> str | None:
    if notification_id not in log.keys:
        return "is not in the event store"
    if log.partitions[notification_id] != partition:
        return f"belongs on partition {log.partitions[notification_id]}"
    if message.key() != log.keys[notification_id]:
        return "has another aggregate's key"
    predecessor = log.previous[notification_id]
    if _header(message, "previous_notification_id") != predecessor:
        return f"names a predecessor other than {predecessor}"
    return None


def _order_findings(
    publication: int, partition: int, firsts: list[int], expected: list[int], acknowledged: int
) -> list[Finding]:
    """First appearances must rise (the log's order) without a hole: every event up to the
    highest seen, and in the newest copy every acknowledged one, must be there."""
    findings = [
        Finding(publication, partition, later, f"arrived after {earlier}")
        for earlier, later in itertools.pairwise(firsts)
        if later < earlier
    ]
    present = set(firsts)
    required = max(acknowledged, *firsts, 0)
    findings += [
        Finding(publication, partition, missing, "is missing")
        for missing in expected
        if missing <= required and missing not in present
    ]
    return findings


def _notification_id(message: Message) -> int:
    return _header(message, "notification_id")


def _header(message: Message, name: str) -> int:
    value = header_int(message, name)
    return -1 if value is None else value

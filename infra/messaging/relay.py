"""The outbox relay: follows an application's notification log and produces every
event to its Kafka topic, in notification order, advancing its position (kept in
PostgreSQL) only after the broker acknowledged every message of a batch. It sleeps until
the event store's insert function announces a commit (NOTIFY), or a fallback poll.

Losing the broker's memory is detected with a marker: a random number committed as
the offset of a private consumer group. A broker that forgot it forgot our events
too, so the relay recreates the topics and republishes from the start; consumers
skip what they already applied.
"""

import logging
import secrets
import threading
import time
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import psycopg
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from eventsourcing.application import Application
from eventsourcing.persistence import Notification
from psycopg import sql

from infra.messaging.in_flight import Batch, Failed, InFlight, Settled
from infra.messaging.kafka import consumer_config, ensure_topics, producer_config, topic_for
from infra.messaging.partitioning import partition_for
from infra.messaging.public_form import PublicForm
from infra.postgres import publications
from infra.settings import Settings

log = logging.getLogger(__name__)
MARKER_REFRESH_S = 3600.0  # re-commit so a real cluster never expires the marker group
ACK_TIMEOUT_S = 35.0  # longer than producer_config's message.timeout.ms: a report always comes
STOP_CHECK_S = 0.25  # how often a wait for news looks at the stop event


class Relay:
    def __init__(self, app: Application[Any], settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.topic = topic_for(settings, app.name)
        self.lock_key = 9_100_000 + sum(app.name.encode())
        self.conn: psycopg.Connection[Any] | None = None
        self.producer: Producer | None = None
        self.marker_client: Consumer | None = None
        self.position = 0
        self.heads = self._fresh_heads()  # last notification id sent, per partition
        self.marker = 0
        self.marker_refreshed_at = time.monotonic()
        self.published = 0
        self.unplaced: set[int] = set()  # partitions where this publication's start is unknown
        self.public_form = PublicForm(app)

    def run(self, stop: threading.Event) -> None:
        self.conn = psycopg.connect(self.settings.require_database_url(), autocommit=True)
        try:
            if not self._become_leader(stop):
                return
            channel = getattr(self.app.recorder, "channel_name", None)  # PostgreSQL's only
            if channel:
                self.conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
            last_check = -float("inf")
            while not stop.is_set():
                if time.monotonic() - last_check > self.settings.relay_check_interval_s:
                    last_check = time.monotonic()
                    if not self._broker_checked():
                        stop.wait(1.0)
                        continue
                    self._producer()  # its idempotent id takes librdkafka 0.5 s: ask early
                self._forget_news()
                if not self.relay_once():
                    check_due = last_check + self.settings.relay_check_interval_s
                    self._wait_for_news(stop, check_due)
        finally:
            self._close_producer(flush=True)
            if self.marker_client is not None:
                self.marker_client.close()
            self.conn.close()

    def relay_once(self) -> bool:
        """Publish what is stored after the position, for at most the broker check
        interval; False when there was nothing to publish. Several batches are on their way
        at once; the position is saved as each is acknowledged, in order."""
        deadline = time.monotonic() + self.settings.relay_check_interval_s
        in_flight = InFlight()
        heads, start = list(self.heads), self.position
        after = start
        try:
            while time.monotonic() < deadline:
                notifications = self.app.recorder.select_notifications(
                    start=after + 1, limit=self.settings.relay_batch_size
                )
                if not notifications:
                    break
                in_flight.add(self._send(notifications, heads))
                after = notifications[-1].id
                full = len(in_flight) >= self.settings.relay_batches_in_flight
                self._settle(in_flight, wait=full)
            if len(in_flight):
                self._producer().flush(ACK_TIMEOUT_S)  # caught up: send now, not after linger.ms
            while len(in_flight):
                self._settle(in_flight, wait=True)
        except (Failed, KafkaException) as error:
            log.warning("publishing failed (%s); checking the broker and retrying", error)
            self._close_producer(flush=False)
            time.sleep(0.5)
            self._broker_checked()
            return True
        return after > start

    def _become_leader(self, stop: threading.Event) -> bool:
        assert self.conn is not None
        while not stop.is_set():
            row = self.conn.execute("SELECT pg_try_advisory_lock(%s)", (self.lock_key,)).fetchone()
            if row and row[0]:
                log.info("relay for %s is active", self.app.name)
                return True
            stop.wait(1.0)
        return False

    def _send(self, notifications: Sequence[Notification], heads: list[int]) -> Batch:
        """Produce a batch without waiting for the broker. Each message names the previous
        one in its partition, so a consumer can tell a gap (a message the broker never
        delivered) from a duplicate. `heads` is advanced to the batch's end."""
        producer = self._producer()
        partitions = self.settings.kafka_partitions
        batch = Batch(notifications[-1].id, [], frozenset(self.unplaced), len(notifications))
        for notification in notifications:
            public = self.public_form.of(notification)
            originator = notification.originator_id
            if not isinstance(originator, UUID):
                originator = UUID(originator)
            partition = partition_for(originator, partitions)
            previous, heads[partition] = heads[partition], notification.id
            headers: list[tuple[str, str | bytes | None]] = [
                ("event_type", public.type),
                ("schema_version", str(public.schema_version)),
                ("source_application", self.app.name),
                ("notification_id", str(notification.id)),
                ("previous_notification_id", str(previous)),
                ("aggregate_version", str(public.aggregate_version)),
                ("timestamp", public.occurred_at),
            ]
            self._produce(
                producer, public.aggregate_id.encode(), public.to_json(), partition, headers, batch
            )
        batch.heads = list(heads)
        return batch

    def _produce(
        self,
        producer: Producer,
        key: bytes,
        value: bytes,
        partition: int,
        headers: list[tuple[str, str | bytes | None]],
        batch: Batch,
    ) -> None:
        while True:
            try:
                producer.produce(
                    self.topic,
                    key=key,
                    value=value,
                    partition=partition,
                    headers=headers,
                    on_delivery=batch.delivered,
                )
                return
            except BufferError:
                producer.poll(0.05)

    def _settle(self, in_flight: InFlight, *, wait: bool) -> None:
        """Serve delivery reports and save the position after every batch acknowledged in
        full; with `wait`, first wait until at least the oldest batch is."""
        producer = self._producer()
        deadline = time.monotonic() + ACK_TIMEOUT_S
        producer.poll(0)
        settled = in_flight.settled()
        while wait and settled is None:
            if time.monotonic() > deadline:
                raise Failed("no delivery report within the message timeout")
            producer.poll(0.1)
            settled = in_flight.settled()
        if settled is not None:
            self._save_position(settled)

    def _forget_news(self) -> None:
        """Drop the notifications already received: what they announce is read next."""
        assert self.conn is not None
        for _ in self.conn.notifies(timeout=0):
            pass

    def _wait_for_news(self, stop: threading.Event, check_due: float) -> None:
        """Until a commit is announced, the fallback poll or the broker check is due, or
        the relay is stopped."""
        assert self.conn is not None
        until = min(time.monotonic() + self.settings.relay_fallback_poll_s, check_due)
        while not stop.is_set() and (left := until - time.monotonic()) > 0:
            for _ in self.conn.notifies(timeout=min(left, STOP_CHECK_S), stop_after=1):
                return

    def _broker_checked(self) -> bool:
        """Check the broker; False (and retry later) while it cannot be reached."""
        try:
            self._check_broker()
        except KafkaException as error:
            log.warning("the broker cannot be checked (%s); retrying", error)
            if self.marker_client is not None:
                self.marker_client.close()
                self.marker_client = None
            return False
        return True

    def _check_broker(self) -> None:
        """Republish from the start if the broker no longer holds our marker."""
        assert self.conn is not None
        stored = self.conn.execute(  # also proves we still hold the leadership session
            """SELECT notification_id, broker_marker, partition_heads FROM relay_positions
               WHERE application = %s""",
            (self.app.name,),
        ).fetchone()
        self.position, self.marker, heads = stored if stored else (0, 0, [])
        self.heads = heads if len(heads) == self.settings.kafka_partitions else self._fresh_heads()
        marker_client = self._marker_client()
        committed = marker_client.committed([TopicPartition(self.topic, 0)], timeout=10)[0].offset
        if committed == self.marker and committed > 0:
            self._refresh_marker(marker_client)
            self._find_unplaced_partitions()
            return
        expected = stored is None or self.settings.kafka_memory_only
        self._republish(marker_client, expected=expected)

    def _republish(self, marker_client: Consumer, *, expected: bool) -> None:
        """Start a new publication from notification 1 under a new marker."""
        assert self.conn is not None
        if expected:  # a first start, or a broker that keeps nothing across restarts
            log.info("publishing %s from the start on a new broker", self.topic)
        else:
            log.warning(
                "the broker does not hold the relay's marker for %s: republishing from the start",
                self.topic,
            )
        self._close_producer(flush=False)
        ensure_topics(self.settings, [self.topic])
        marker = secrets.randbelow(2**52) + 1
        marker_client.commit(offsets=[TopicPartition(self.topic, 0, marker)], asynchronous=False)
        self.position, self.marker, self.heads = 0, marker, self._fresh_heads()
        self.marker_refreshed_at = time.monotonic()
        with self.conn.transaction():
            self._store_position(0, self.heads)
            publications.begin(
                self.conn, self.app.name, self.settings.kafka_partitions, first=publications.UNKNOWN
            )
        self.unplaced = set(range(self.settings.kafka_partitions))

    def _find_unplaced_partitions(self) -> None:
        """Which partitions' first offsets the newest publication still has to learn (a
        topic published before publications were recorded starts at offset 0)."""
        assert self.conn is not None
        known = publications.publications(self.conn, self.app.name)
        if not known:
            publications.begin(self.conn, self.app.name, self.settings.kafka_partitions, first=0)
            known = publications.publications(self.conn, self.app.name)
        offsets = known[-1].first_offsets
        self.unplaced = {p for p, o in enumerate(offsets) if o == publications.UNKNOWN}

    def _marker_client(self) -> Consumer:
        if self.marker_client is None:
            group = f"{self.settings.topic_prefix}.relay-marker.{self.app.name}"
            self.marker_client = Consumer(consumer_config(self.settings, group))
        return self.marker_client

    def _refresh_marker(self, marker_client: Consumer) -> None:
        if time.monotonic() - self.marker_refreshed_at > MARKER_REFRESH_S:
            offset = TopicPartition(self.topic, 0, self.marker)
            marker_client.commit(offsets=[offset], asynchronous=False)
            self.marker_refreshed_at = time.monotonic()

    def _fresh_heads(self) -> list[int]:
        return [0] * self.settings.kafka_partitions

    def _save_position(self, settled: Settled) -> None:
        assert self.conn is not None
        with self.conn.transaction():
            self._store_position(settled.last_id, settled.heads)
            if settled.first_offsets:
                publications.learn_first_offsets(self.conn, self.app.name, settled.first_offsets)
        self.published += settled.events
        self.position, self.heads = settled.last_id, settled.heads
        self.unplaced -= set(settled.first_offsets)

    def _store_position(self, notification_id: int, heads: list[int]) -> None:
        assert self.conn is not None
        self.conn.execute(
            """INSERT INTO relay_positions
                   (application, notification_id, broker_marker, partition_heads)
               VALUES (%s, %s, %s, %s)
               ON CONFLICT (application) DO UPDATE
               SET notification_id = EXCLUDED.notification_id,
                   broker_marker = EXCLUDED.broker_marker,
                   partition_heads = EXCLUDED.partition_heads""",
            (self.app.name, notification_id, self.marker, heads),
        )

    def _producer(self) -> Producer:
        if self.producer is None:
            self.producer = Producer(producer_config(self.settings))
        return self.producer

    def _close_producer(self, *, flush: bool) -> None:
        if self.producer is None:
            return
        if flush:
            self.producer.flush(10)
        else:
            self.producer.purge()
            self.producer.flush(1)
        self.producer = None

"""The projection runner: consumes a projection's topics in a consumer group and
applies each batch in one PostgreSQL transaction, together with the highest
notification id applied per (topic, partition). Anything at or below it is a
redelivery or a republish, and is skipped. Kafka offsets are committed only after
that transaction, so a crash anywhere replays, and replays change nothing.
"""

import contextlib
import logging
import threading
import time
from typing import Any

import psycopg
from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)
from psycopg import sql

from consumers import generations
from consumers.registry import Projection, apply_all
from domain.public import PublicEvent
from infra.messaging.kafka import consumer_config, header_int, topic_for
from infra.postgres.connections import migration_lock
from infra.settings import Settings

log = logging.getLogger(__name__)
SWITCH_CHECK_S = 1.0
TAIL_CHECK_S = 1.0  # how often partitions are compared with what the relay had acknowledged
TAIL_QUIET_S = 5.0  # a partition behind the relay's head with nothing arriving this long


def group_id(settings: Settings, projection: Projection, generation: int) -> str:
    return f"{settings.topic_prefix}.projection.{projection.NAME}.g{generation}"


class ProjectionRunner:
    def __init__(
        self,
        projection: Projection,
        settings: Settings,
        *,
        generation: int | None = None,
        follow_switches: bool = True,
        batch_size: int | None = None,
    ) -> None:
        self.projection = projection
        self.settings = settings
        self.batch_size = batch_size or settings.projection_batch_size
        self.topics = [topic_for(settings, context) for context in projection.CONTEXTS]
        self.follow_switches = follow_switches
        self.conn = psycopg.connect(settings.require_database_url(), autocommit=True)
        if generation is None:
            with migration_lock(settings.require_database_url()):
                generation = generations.ensure_generation(self.conn, projection)
        self.generation = generation
        self._last_arrival: dict[tuple[str, int], float] = {}  # or its assignment
        self.consumer = self._subscribe()
        self.applied = 0
        self.skipped = 0
        self.gaps = 0
        self._last_switch_check = time.monotonic()
        self._last_tail_check = time.monotonic()
        self._backlogged_at = 0.0  # when consume() last returned a full batch
        self._flowing = False  # the last call returned messages: more may be queued

    def run(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                self.step()
                if self.follow_switches:
                    self._follow_switch()
        finally:
            self.close()

    def step(self, idle_wait: float | None = None) -> int:
        """Consume and apply one batch; the number of messages it held."""
        messages = self._next_batch(
            self.settings.consumer_idle_wait_s if idle_wait is None else idle_wait
        )
        events = [m for m in messages if not self._is_error(m)]
        self._flowing = bool(events)
        now = time.monotonic()
        for message in events:
            self._last_arrival[_source(message)] = now
        if len(messages) == self.batch_size:
            self._backlogged_at = now
        if events:
            gaps = self._apply(events)
            if gaps:
                self._reread(gaps)
            else:
                self.consumer.commit(asynchronous=True)
        if now - self._last_tail_check > TAIL_CHECK_S:
            self._last_tail_check = now
            if tail := self._missed_tail(now):
                self._reread(tail)
        return len(events)

    def _next_batch(self, idle_wait: float) -> list[Message]:
        """What is queued now, without waiting, while messages keep coming; when nothing
        came last time, wait up to `idle_wait` for the first message only. (consume(n, t)
        waits the whole t unless n messages arrive: a quiet stream would pay t per message,
        and a short t spins when idle.)"""
        if self._flowing:
            messages = self.consumer.consume(self.batch_size, 0)
        else:
            first = self.consumer.poll(idle_wait)
            messages = [] if first is None else [first]
            if first is not None and self.batch_size > 1:
                messages += self.consumer.consume(self.batch_size - 1, 0)
        return messages

    def _missed_tail(self, now: float) -> set[tuple[str, int]]:
        """Assigned partitions whose last messages never arrived. A chain break shows a
        hole only when a later message comes; after the last one, nothing comes. So compare
        each partition with the head the relay recorded once the broker acknowledged it: one
        that stays behind with nothing arriving lost its tail, however busy the others are."""
        if now - self._backlogged_at < TAIL_QUIET_S:
            return set()  # a backlog is still being read: its partitions take turns
        applied = self.positions()
        missed = set()
        for context, topic in zip(self.projection.CONTEXTS, self.topics, strict=True):
            row = self.conn.execute(
                "SELECT partition_heads FROM relay_positions WHERE application = %s", (context,)
            ).fetchone()
            for partition, head in enumerate(row[0] if row else []):
                key = (topic, partition)
                quiet_since = self._last_arrival.get(key)
                if quiet_since is None or head <= applied.get(key, 0):
                    continue  # not assigned to us, or caught up
                if now - quiet_since > TAIL_QUIET_S:
                    missed.add(key)
        return missed

    def positions(self) -> dict[tuple[str, int], int]:
        return generations.positions(self.conn, self.projection, self.generation)

    def close(self) -> None:
        try:
            self.consumer.commit(asynchronous=False)
        except Exception:  # nothing consumed yet, or the broker is gone: offsets are advisory
            log.debug("final offset commit skipped", exc_info=True)
        self.consumer.close()
        self.conn.close()

    def _subscribe(self) -> Consumer:
        consumer = Consumer(
            consumer_config(
                self.settings, group_id(self.settings, self.projection, self.generation)
            )
        )
        self._last_arrival.clear()
        consumer.subscribe(self.topics, on_assign=self._assigned, on_revoke=self._revoked)
        return consumer

    def _assigned(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        now = time.monotonic()
        for tp in partitions:
            self._last_arrival[(tp.topic, tp.partition)] = now

    def _revoked(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self._last_arrival.pop((tp.topic, tp.partition), None)

    def _apply(self, messages: list[Message]) -> set[tuple[str, int]]:
        """Apply what follows on from each partition's position, as one batch; return the
        partitions where a message arrived whose predecessor never did (a gap)."""
        schema = sql.Identifier(generations.schema_name(self.projection, self.generation))
        gaps: set[tuple[str, int]] = set()
        events: list[PublicEvent] = []
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute(sql.SQL("SET LOCAL search_path TO {}").format(schema))
            positions = self._lock_positions(cur, messages)
            locked = dict(positions)
            for message in messages:
                key = _source(message)
                notification_id = _header(message, "notification_id")
                if notification_id <= positions.get(key, 0):
                    self.skipped += 1
                    continue
                if _header(message, "previous_notification_id") > positions.get(key, 0):
                    gaps.add(key)
                    continue
                events.append(PublicEvent.from_json(message.value() or b""))
                positions[key] = notification_id
            apply_all(self.projection, events, cur)
            self.applied += len(events)
            moved = [(t, p, n) for (t, p), n in positions.items() if n != locked[(t, p)]]
            if moved:
                cur.execute(
                    """UPDATE positions SET notification_id = moved.n
                       FROM unnest(%s::text[], %s::int[], %s::bigint[]) AS moved(t, p, n)
                       WHERE topic = moved.t AND partition = moved.p""",
                    tuple(map(list, zip(*moved, strict=True))),
                )
        return gaps

    def _reread(self, gaps: set[tuple[str, int]]) -> None:
        """Messages never reached us (see _apply and _missed_tail): read those partitions
        again from offset 0 (topics keep everything); what was applied is skipped, what was
        missed is applied. Done by committing offset 0 and rejoining the group, not by seek(): the
        broker's idea of where a partition starts may be what went wrong, and a seek on a
        partition still being assigned can be ignored."""
        self.gaps += len(gaps)
        for topic, partition in sorted(gaps):
            log.warning("gap in %s/%s: re-reading the partition from offset 0", topic, partition)
        with contextlib.suppress(KafkaException):  # nothing consumed elsewhere yet
            self.consumer.commit(asynchronous=False)
        rewind = [TopicPartition(topic, partition, 0) for topic, partition in gaps]
        self.consumer.commit(offsets=rewind, asynchronous=False)
        self.consumer.close()
        self.consumer = self._subscribe()  # assignment restarts each partition's quiet clock

    def _lock_positions(
        self, cur: psycopg.Cursor[Any], messages: list[Message]
    ) -> dict[tuple[str, int], int]:
        """Lock this batch's partition rows: two consumers mid-rebalance cannot both apply."""
        keys = sorted({_source(m) for m in messages})
        wanted = ([k[0] for k in keys], [k[1] for k in keys])
        cur.execute(
            """INSERT INTO positions (topic, partition, notification_id)
               SELECT t, p, 0 FROM unnest(%s::text[], %s::int[]) AS wanted(t, p)
               ON CONFLICT DO NOTHING""",
            wanted,
        )
        cur.execute(
            """SELECT topic, partition, notification_id FROM positions
               WHERE (topic, partition) IN (SELECT * FROM unnest(%s::text[], %s::int[]))
               ORDER BY topic, partition FOR UPDATE""",
            wanted,
        )
        return {(topic, partition): nid for topic, partition, nid in cur.fetchall()}

    def _is_error(self, message: Message) -> bool:
        error = message.error()
        if error is None:
            return False
        if error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:  # until the relay creates it
            log.info("waiting for %s's topics: %s", self.projection.NAME, error.str())
        elif error.code() != KafkaError._PARTITION_EOF:
            log.warning("consumer error on %s: %s", self.projection.NAME, error)
        return True

    def _follow_switch(self) -> None:
        """After a rebuild switched generations, continue on the new one."""
        if time.monotonic() - self._last_switch_check < SWITCH_CHECK_S:
            return
        self._last_switch_check = time.monotonic()
        active = generations.active_generation(self.conn, self.projection)
        if active is not None and active != self.generation:
            log.info("%s switched to generation %s", self.projection.NAME, active)
            self.consumer.close()
            self.generation = active
            self.consumer = self._subscribe()


def _source(message: Message) -> tuple[str, int]:
    topic, partition = message.topic(), message.partition()
    assert topic is not None
    assert partition is not None
    return topic, partition


def _header(message: Message, wanted: str) -> int:
    value = header_int(message, wanted)
    if value is None:
        raise ValueError(f"message at {message.topic()}/{message.partition()} has no {wanted}")
    return value

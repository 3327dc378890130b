"""Two writers interleaved as tightly as a test can force: one inserts an event and holds
its transaction open while the other inserts and commits. Whatever the mechanism, a reader
that follows the notification log from its position must see both, and the relay must
publish both, in id order per partition."""

import threading
import time
from collections import defaultdict
from typing import Any
from uuid import UUID, uuid4

import psycopg
from eventsourcing.application import Application
from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg import sql

from infra.messaging.relay import Relay
from infra.runtime.bootstrap import build_applications
from infra.settings import Settings
from tests.integration.workers import read_topic, running
from tests.support import BOOKED_AT, booking, wait_until

HOLD_S = 1.0  # long enough for a relay polling every 10 ms to pass the held id many times


def insert_call(recorder: PostgresApplicationRecorder) -> sql.Composed:
    """The application's own insert function, called with one event, as its saves call it."""
    schema = recorder.datastore.schema
    return sql.SQL("SELECT * FROM {}(ARRAY[ROW(%s, %s, %s, %s)::{}])").format(
        sql.Identifier(schema, recorder.pg_function_name_insert_events),
        sql.Identifier(schema, recorder.stored_event_type_name),
    )


def all_ids(app: Application[UUID]) -> list[int]:
    return [n.id for n in app.recorder.select_notifications(start=1, limit=1_000_000)]


class HeldWriter:
    """Inserts through the application's insert function and keeps the transaction open."""

    def __init__(self, database_url: str, app: Application[UUID]) -> None:
        recorder = app.recorder
        assert isinstance(recorder, PostgresApplicationRecorder)
        self.conn = psycopg.connect(database_url)  # not autocommit: the transaction stays open
        self.call = insert_call(recorder)

    def insert(self, event: StoredEvent) -> None:
        self.conn.execute(
            self.call, (event.originator_id, event.originator_version, event.topic, event.state)
        )

    def commit(self) -> None:
        self.conn.commit()
        self.conn.close()


def racing_save(save: Any) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            save()
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


def test_a_follower_of_any_applications_log_never_passes_a_late_commit(
    settings: Settings, database_url: str
) -> None:
    apps = build_applications(settings)
    for app in apps.all:
        probe = StoredEvent(uuid4(), 1, "tests.probe:Held", b"{}")
        held = HeldWriter(database_url, app)
        held.insert(probe)
        other = StoredEvent(uuid4(), 1, "tests.probe:Committed", b"{}")
        thread, errors = racing_save(
            lambda app=app, other=other: app.recorder.insert_events([other])
        )
        time.sleep(HOLD_S)
        seen_first = all_ids(app)  # what a follower reads while the first writer is open
        position = max(seen_first, default=0)
        held.commit()
        thread.join(timeout=30)
        seen_after = [
            n.id for n in app.recorder.select_notifications(start=position + 1, limit=1000)
        ]
        assert errors == [], app.name
        assert not thread.is_alive(), app.name
        assert sorted(seen_first + seen_after) == all_ids(app), (
            f"{app.name}: a follower at {position} missed an event committed after it"
        )
        assert len(all_ids(app)) == len(seen_first) + len(seen_after) >= 2


def test_an_event_committed_late_is_still_published_in_id_order(
    settings: Settings, database_url: str
) -> None:
    shipments = build_applications(settings).shipments
    first = shipments.book(booking(0), actor="key_test", now=BOOKED_AT)
    copied = shipments.recorder.select_notifications(start=1, limit=1)[0]
    with running(Relay(shipments, settings)):
        assert wait_until(lambda: _published(settings) >= 2, timeout=30)
        held = HeldWriter(database_url, shipments)
        held.insert(StoredEvent(uuid4(), 1, copied.topic, copied.state))  # another booking
        thread, errors = racing_save(
            lambda: shipments.book(booking(1), actor="key_test", now=BOOKED_AT)
        )
        time.sleep(HOLD_S)
        held.commit()
        thread.join(timeout=30)
        assert not thread.is_alive()
        stored = all_ids(shipments)
        messages = read_topic(settings, expected=len(stored), timeout=30)

    assert errors == []
    assert first.awb
    published = [int(dict(m.headers())["notification_id"]) for m in messages]
    assert sorted(published) == stored, "an event was never published (or published twice)"
    per_partition: dict[int, list[int]] = defaultdict(list)
    for message, notification_id in zip(messages, published, strict=True):
        per_partition[message.partition()].append(notification_id)
    for ids in per_partition.values():
        assert ids == sorted(ids)


def _published(settings: Settings) -> int:
    with psycopg.connect(settings.require_database_url(), autocommit=True) as conn:
        row = conn.execute(
            "SELECT notification_id FROM relay_positions WHERE application = 'shipments'"
        ).fetchone()
    return int(row[0]) if row else 0

"""Transaction e-mails, end to end: events through the real relay, broker and runner into
the mail queue, then out through a real SMTP server running in the test process."""

import email
import logging
import mailbox
import re
import socket
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from confluent_kafka import Producer

from commands.container import Applications
from consumers.mail_sender import MailSender
from consumers.registry import projection
from consumers.runner import ProjectionRunner
from domain.public import PublicEvent
from infra.mail import transport_for
from infra.messaging.kafka import ensure_topics, producer_config, topic_for
from infra.messaging.partitioning import partition_for
from infra.messaging.relay import Relay
from infra.postgres.tokens import Purpose, redeem
from infra.runtime.bootstrap import build_applications
from infra.settings import Settings
from tests.integration.workers import running
from tests.support import T0, start_process, wait_until

BASE = "https://app.jalur.test"
NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


@dataclass
class Inbox:
    """What the SMTP server accepted: (envelope recipients, parsed message)."""

    port: int
    received: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    refusal: str | None = None  # an SMTP reply to refuse messages with, while set

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.refusal is not None:
            return self.refusal
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes)
        parsed = email.message_from_bytes(raw, policy=default_policy)
        assert isinstance(parsed, EmailMessage)
        self.received.append((list(envelope.rcpt_tos), parsed))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [message for rcpts, message in self.received if address in rcpts]


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = Inbox(port)
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler
    controller.stop()


@pytest.fixture
def mail_settings(settings: Settings, inbox: Inbox, tmp_path: Path) -> Settings:
    smtp_url = f"smtp://127.0.0.1:{inbox.port}"
    return settings.model_copy(
        update={"smtp_url": smtp_url, "public_url": BASE, "state_dir": tmp_path}
    )


@pytest.fixture
def apps(mail_settings: Settings) -> Iterator[Applications]:
    built = build_applications(mail_settings)
    yield built
    built.close()


@contextmanager
def pipeline(settings: Settings, apps: Applications) -> Iterator[ProjectionRunner]:
    """The relays and the mail projection's runner (the queue fills, nothing is sent)."""
    with ExitStack() as stack:
        for app in apps.all:
            stack.enter_context(running(Relay(app, settings)))
        runner = ProjectionRunner(projection("mail"), settings)
        stack.enter_context(running(runner))
        yield runner


def sender(settings: Settings, apps: Applications) -> MailSender:
    return MailSender(settings, apps.keyring, transport_for(settings))


def stored(apps: Applications) -> int:
    return sum(app.recorder.max_notification_id() or 0 for app in apps.all)


def register(apps: Applications, address: str, name: str = "Budi Santoso") -> UUID:
    """A customer as the API registers one: personal fields sealed, a credentials row."""
    account_id = uuid4()
    sealed = apps.keyring.seal(
        account_id, {"user_id": f"u{account_id.hex[:8]}", "email": address, "display_name": name}
    )
    with apps.key_pool.connection() as conn:
        conn.execute(
            """INSERT INTO credentials (account_id, user_key, email_key, role, status,
                   password_hash) VALUES (%s, %s, %s, 'customer', 'pending', 'not-a-hash')""",
            (account_id, account_id.hex, uuid4().hex),
        )
    apps.accounts.register(
        account_id,
        role="customer",
        user_id=sealed["user_id"] or "",
        email=sealed["email"],
        display_name=sealed["display_name"] or "",
        phone=None,
        privacy_policy_version=None,
        now=NOW,
    )
    return account_id


def link_in(message: EmailMessage, path: str) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    match = re.search(rf"{re.escape(BASE + path)}\?token=([A-Za-z0-9_-]+)", body.get_content())
    assert match, f"no {path} link in the message"
    return match.group(1)


def our_log(caplog: pytest.LogCaptureFixture) -> str:
    """Everything our processes logged; aiosmtpd's own log is the receiving server's."""
    return "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("mail."))


def queue_statuses(database_url: str) -> list[tuple[str, str]]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT template, status FROM mail_queue ORDER BY template").fetchall()
    return [(row[0], row[1]) for row in rows]


def test_the_verification_mail_arrives_with_a_link_that_works_once(
    mail_settings: Settings,
    apps: Applications,
    inbox: Inbox,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    account_id = register(apps, "budi@example.com")
    with pipeline(mail_settings, apps), running(sender(mail_settings, apps)):
        assert wait_until(lambda: len(inbox.received) == 1, timeout=60)

    [(rcpts, message)] = inbox.received
    assert rcpts == ["budi@example.com"]
    assert message["To"] == "budi@example.com"
    assert message["Subject"] == "Verify your e-mail address for Jalur"
    assert message["Message-ID"].endswith("@jalur.invalid>")
    token = link_in(message, "/verify-email")
    with psycopg.connect(database_url, autocommit=True) as conn:
        first = redeem(conn, token, Purpose.VERIFY_EMAIL)
        assert first is not None
        assert first.account_id == account_id
        assert redeem(conn, token, Purpose.VERIFY_EMAIL) is None
    sender_lines = [r for r in caplog.records if r.name == "consumers.mail_sender"]
    assert sender_lines, "the sender logs each mail"
    for secret in ("budi@example.com", "Budi", token):
        assert secret not in our_log(caplog)


def test_republished_events_send_nothing_twice(
    mail_settings: Settings, apps: Applications, inbox: Inbox, database_url: str
) -> None:
    account_id = register(apps, "siti@example.com", "Siti Aminah")
    apps.accounts.request_password_reset(account_id, NOW)
    apps.accounts.record_password_change(account_id, NOW, by_reset=True)
    events = stored(apps)
    mail_sender = sender(mail_settings, apps)
    with pipeline(mail_settings, apps) as runner, running(mail_sender):
        assert wait_until(lambda: len(inbox.received) == 3, timeout=60)
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("UPDATE relay_positions SET notification_id = 0")  # republish all
        assert wait_until(lambda: runner.skipped >= events, timeout=60)
        assert not wait_until(lambda: len(inbox.received) > 3, timeout=3)

    assert runner.skipped == events  # every republished event skipped, once
    assert runner.applied == events
    subjects = sorted(message["Subject"] for _, message in inbox.received)
    assert subjects == [
        "Reset your Jalur password",
        "Verify your e-mail address for Jalur",
        "Your Jalur password was changed",
    ]
    assert len({message["Message-ID"] for _, message in inbox.received}) == 3
    assert queue_statuses(database_url) == [
        ("password_changed", "sent"),
        ("password_reset", "sent"),
        ("verify_email", "sent"),
    ]


def test_an_erased_person_gets_nothing(
    mail_settings: Settings, apps: Applications, inbox: Inbox, database_url: str
) -> None:
    erased = register(apps, "erased@example.com")
    shredded = register(apps, "shredded@example.com")
    register(apps, "kept@example.com")
    apps.accounts.erase(erased, NOW)
    for subject in (erased, shredded):  # `shredded` only loses its key: no event says so
        apps.keyring.destroy(subject)
    events = stored(apps)
    with pipeline(mail_settings, apps) as runner:
        assert wait_until(lambda: runner.applied == events, timeout=60)
    mail_sender = sender(mail_settings, apps)
    with running(mail_sender):
        assert wait_until(lambda: mail_sender.outcomes["sent"] == 1, timeout=30)
        assert wait_until(lambda: mail_sender.outcomes["dropped"] == 1, timeout=30)

    assert [rcpts for rcpts, _ in inbox.received] == [["kept@example.com"]]
    assert sorted(queue_statuses(database_url)) == [
        ("verify_email", "dropped"),  # AccountErased dropped it before any send
        ("verify_email", "dropped"),  # the sender could not open the address
        ("verify_email", "sent"),
    ]


def test_without_an_smtp_server_mail_goes_to_the_mailbox_folder(
    mail_settings: Settings, apps: Applications
) -> None:
    local = mail_settings.model_copy(update={"smtp_url": None})
    register(apps, "dewi@example.com", "Dewi Lestari")
    with pipeline(local, apps), running(sender(local, apps)):
        assert wait_until(lambda: len(mailbox.Maildir(local.mailbox_dir)) == 1, timeout=60)

    [stored_message] = list(mailbox.Maildir(local.mailbox_dir, create=False))
    parsed = email.message_from_bytes(stored_message.as_bytes(), policy=default_policy)
    assert isinstance(parsed, EmailMessage)
    assert parsed["To"] == "dewi@example.com"
    assert link_in(parsed, "/verify-email")


def shipment_events(apps: Applications, awb: str) -> list[PublicEvent]:
    """A booking in the agreed schema v2 (parties sealed, e-mails included), then a hub scan
    and a delivery (only the scan fields mail reads), built by hand."""
    shipment_id, at = str(uuid4()), T0.isoformat()
    shipper = apps.keyring.seal(uuid4(), {"name": "Budi Santoso", "email": "budi@toko.id"})
    receiver = apps.keyring.seal(uuid4(), {"name": "Siti Aminah", "email": "siti@mail.id"})
    booking = {
        "service": "REG",
        "cod_amount": None,
        "shipper": {**shipper, "phone": None, "address": None, "area": "CGK10110"},
        "receiver": {**receiver, "phone": None, "address": None, "area": "SUB60111"},
        "parcel": {"weight_grams": 1200, "length_cm": 10, "width_cm": 10, "height_cm": 10},
    }
    booked: dict[str, Any] = {
        "awb": awb,
        "booked_at": at,
        "booked_by": "key_test",
        "shipper_account": None,
        "receiver_account": None,
        "booking": booking,
    }
    bodies = [("ShipmentBooked", booked)] + [
        ("ScanRecorded", {"scan_id": str(uuid4()), "code": code, "scanned_at": at})
        for code in ("IP3", "D01")
    ]
    return [
        PublicEvent(kind, 2, shipment_id, version, at, data)
        for version, (kind, data) in enumerate(bodies, start=1)
    ]


def publish(settings: Settings, events: list[PublicEvent]) -> None:
    """Produce events as the relay would: one partition per aggregate, chained ids."""
    topic = topic_for(settings, "shipments")
    ensure_topics(settings, [topic, topic_for(settings, "accounts")])
    producer = Producer(producer_config(settings))
    for notification_id, event in enumerate(events, start=1):
        headers = {
            "event_type": event.type,
            "schema_version": str(event.schema_version),
            "source_application": "shipments",
            "notification_id": str(notification_id),
            "previous_notification_id": str(notification_id - 1),
            "aggregate_version": str(event.aggregate_version),
            "timestamp": event.occurred_at,
        }
        partition = partition_for(UUID(event.aggregate_id), settings.kafka_partitions)
        producer.produce(
            topic,
            key=event.aggregate_id.encode(),
            value=event.to_json(),
            partition=partition,
            headers=list(headers.items()),
        )
    assert producer.flush(30) == 0


def test_a_booked_then_delivered_shipment_mails_its_parties(
    mail_settings: Settings, apps: Applications, inbox: Inbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    awb = "JL0000000001"
    publish(mail_settings, shipment_events(apps, awb))
    runner = ProjectionRunner(projection("mail"), mail_settings)
    with running(runner), running(sender(mail_settings, apps)):
        assert wait_until(lambda: len(inbox.received) == 3, timeout=60)
        assert not wait_until(lambda: len(inbox.received) > 3, timeout=2)

    assert runner.applied == 3
    shipper, receiver = inbox.to("budi@toko.id"), inbox.to("siti@mail.id")
    assert sorted(m["Subject"] for m in shipper) == [
        f"Shipment {awb} booked",
        f"Shipment {awb} delivered",
    ]
    assert [m["Subject"] for m in receiver] == [f"Shipment {awb} delivered"]
    body = shipper[0].get_body(("plain",))
    assert body is not None
    assert "Hello Budi Santoso," in body.get_content()
    for secret in ("budi@toko.id", "siti@mail.id", "Budi", "Siti"):
        assert secret not in our_log(caplog)


def test_a_refused_mail_is_kept_and_sent_on_a_later_attempt(
    mail_settings: Settings,
    apps: Applications,
    inbox: Inbox,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    register(apps, "rina@example.com", "Rina Wati")
    inbox.refusal = "451 4.3.0 Mailbox busy, try again later"
    mail_sender = sender(mail_settings, apps)
    with pipeline(mail_settings, apps), running(mail_sender):
        assert wait_until(lambda: queue_attempts(database_url) == [(1, "pending")], timeout=60)
        inbox.refusal = None
        assert wait_until(lambda: len(inbox.received) == 1, timeout=30)  # backoff: 5 s

    assert queue_attempts(database_url) == [(2, "sent")]
    with psycopg.connect(database_url) as conn:  # the refused attempt's token was rolled back
        assert conn.execute("SELECT count(*) FROM one_time_tokens").fetchone() == (1,)
    assert "mail verify_email: attempt 1 failed (SMTPDataError 451)" in our_log(caplog)
    for secret in ("rina@example.com", "Rina"):
        assert secret not in our_log(caplog)


def queue_attempts(database_url: str) -> list[tuple[int, str]]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT attempts, status FROM mail_queue").fetchall()
    return [(row[0], row[1]) for row in rows]


def test_jalur_consume_mail_fills_the_queue_and_sends_in_one_process(
    mail_settings: Settings, apps: Applications, inbox: Inbox, tmp_path: Path
) -> None:
    register(apps, "agus@example.com", "Agus Salim")
    consumer = start_process(mail_settings, "consume", "mail", log=tmp_path / "consume.log")
    try:
        with running(Relay(apps.accounts, mail_settings)):
            assert wait_until(lambda: len(inbox.received) == 1, timeout=90)
    finally:
        consumer.terminate()
        assert consumer.wait(timeout=30) == 0
    assert inbox.received[0][0] == ["agus@example.com"]


def test_an_email_change_is_confirmed_at_the_new_address_and_announced_at_the_old(
    mail_settings: Settings, apps: Applications, inbox: Inbox, database_url: str
) -> None:
    account_id = register(apps, "budi@example.com")
    change_id = uuid4()
    new_email = apps.keyring.seal(account_id, {"email": "budi.baru@example.co.id"})["email"]
    assert new_email is not None
    apps.accounts.request_email_change(account_id, change_id, new_email, NOW)
    with pipeline(mail_settings, apps), running(sender(mail_settings, apps)):
        assert wait_until(lambda: len(inbox.received) == 3, timeout=60)

    [confirm] = inbox.to("budi.baru@example.co.id")
    token = link_in(confirm, "/confirm-email")
    with psycopg.connect(database_url, autocommit=True) as conn:
        redeemed = redeem(conn, token, Purpose.CONFIRM_EMAIL_CHANGE)
    assert redeemed is not None
    assert redeemed.payload == str(change_id)
    notice = next(m for m in inbox.to("budi@example.com") if "being changed" in str(m["Subject"]))
    body = notice.get_body(("plain",))
    assert body is not None
    assert "b***@example.co.id" in body.get_content()
    assert "budi.baru" not in body.get_content()


def test_the_notice_to_the_old_address_carries_a_link_that_cancels_the_change(
    mail_settings: Settings, apps: Applications, inbox: Inbox, database_url: str
) -> None:
    account_id = register(apps, "budi@example.com")
    change_id = uuid4()
    new_email = apps.keyring.seal(account_id, {"email": "mallory@example.net"})["email"]
    assert new_email is not None
    apps.accounts.request_email_change(account_id, change_id, new_email, NOW)
    with pipeline(mail_settings, apps), running(sender(mail_settings, apps)):
        assert wait_until(lambda: len(inbox.received) == 3, timeout=60)

    notice = next(m for m in inbox.to("budi@example.com") if "being changed" in str(m["Subject"]))
    token = link_in(notice, "/cancel-email-change")
    body = notice.get_body(("plain",))
    assert body is not None
    assert "reset your password" not in body.get_content().lower()
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert redeem(conn, token, Purpose.CONFIRM_EMAIL_CHANGE) is None, "for cancelling only"
        redeemed = redeem(conn, token, Purpose.CANCEL_EMAIL_CHANGE)
        lifetime = conn.execute(
            "SELECT expires_at - created_at FROM one_time_tokens WHERE account_id = %s"
            " AND purpose = %s",
            (account_id, Purpose.CANCEL_EMAIL_CHANGE.value),
        ).fetchone()
    assert redeemed is not None
    assert (redeemed.account_id, redeemed.payload) == (account_id, str(change_id))
    assert lifetime is not None
    assert lifetime[0] == timedelta(days=7)

"""The mail sender: delivers the e-mails the `mail` projection queued.

One row at a time, in one transaction that holds the row's lock (`FOR UPDATE SKIP
LOCKED`, so several senders share the queue): open the sealed address, make the link's
single-use token, render, hand the message to the transport, mark the row sent. An
address that no longer opens belongs to an erased person: the row is dropped unsent.

Delivery is at least once. If the process dies, or the connection breaks, after the SMTP
server accepted a message and before the commit, the message is sent again. Every
message carries a deterministic Message-ID derived from its queue key, so receiving
systems can drop such a duplicate. For a message with a link the token is part of that
identity too: the first copy's token was rolled back with its transaction, so the second
copy, whose link works, must not be dropped as a duplicate of the first.

Logs name the template, the outcome and the attempt count: never an address, a name or
a token (error messages of SMTP servers quote addresses, so only their class is kept).
"""

import hashlib
import logging
import smtplib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from urllib.parse import urlencode
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.rows import class_row

from consumers import generations
from consumers.mail_templates import TEMPLATES, Link, Rendered, render
from consumers.registry import projection
from domain.sealing import is_sealed
from infra.mail import Transport
from infra.postgres import tokens
from infra.postgres.connections import migration_lock
from infra.security.keyring import Keyring
from infra.settings import Settings
from projections import mail

log = logging.getLogger(__name__)
IDLE_WAIT_S = 0.5
MAX_ATTEMPTS = 10
BACKOFF_FIRST_S = 5
BACKOFF_MAX_S = 3600
SENT, DROPPED, FAILED = "sent", "dropped", "failed"


@dataclass(frozen=True)
class Queued:
    message_key: str
    template: str
    account_id: UUID | None
    recipient: str | None
    params: dict[str, str | None]
    attempts: int


class MailSender:
    def __init__(self, settings: Settings, keyring: Keyring, transport: Transport) -> None:
        self.settings = settings
        self.keyring = keyring
        self.transport = transport
        url = settings.require_database_url()
        self.conn = psycopg.connect(url, autocommit=True)
        queue_of = projection(mail.NAME)
        with migration_lock(url):
            generation = generations.ensure_generation(self.conn, queue_of)
        self.queue = sql.Identifier(generations.schema_name(queue_of, generation), "queue")
        self.domain = parseaddr(settings.mail_from)[1].rpartition("@")[2] or "jalur.invalid"
        self.outcomes = {SENT: 0, DROPPED: 0, FAILED: 0}

    def run(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                if not self.send_next():
                    stop.wait(IDLE_WAIT_S)
        finally:
            self.conn.close()

    def send_next(self) -> bool:
        """Deliver the next due e-mail; False when none is due."""
        with self.conn.transaction():
            queued = self._claim()
            if queued is None:
                return False
            try:
                with self.conn.transaction():  # a failed send also forgets the token it made
                    outcome = self._deliver(queued)
            except Exception as error:  # any failure: keep the row and retry later
                self._retry_later(queued, error)
            else:
                self._finish(queued, outcome)
        return True

    def _claim(self) -> Queued | None:
        query = sql.SQL(
            """SELECT message_key, template, account_id, recipient, params, attempts FROM {}
               WHERE status = 'pending' AND next_attempt_at <= now()
               ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED"""
        ).format(self.queue)
        with self.conn.cursor(row_factory=class_row(Queued)) as cur:
            return cur.execute(query).fetchone()

    def _deliver(self, queued: Queued) -> str:
        opened = self._open([queued.recipient, *queued.params.values()])
        address = opened(queued.recipient)  # None: erased (or cleared by AccountErased)
        if address is None:
            log.info("mail %s dropped: the recipient was erased", queued.template)
            return DROPPED
        params = {name: opened(value) for name, value in queued.params.items()}
        link, token = None, None
        spec = TEMPLATES[queued.template].link
        if spec is not None:
            token = self._token(queued.account_id, spec, params)
            if token is None:
                log.info("mail %s dropped: the account is gone", queued.template)
                return DROPPED
            link = f"{self.settings.links_base()}{spec.path}?{urlencode({'token': token})}"
        rendered = render(queued.template, params, link)
        self.transport.send(self._message(queued.message_key, address, rendered, token))
        log.info("mail %s sent (attempt %d)", queued.template, queued.attempts + 1)
        return SENT

    def _open(self, values: list[str | None]) -> Callable[[str | None], str | None]:
        """A look-up that unseals sealed values (None once erased) and passes others through."""
        plain = self.keyring.unseal_many(values, self.conn)

        def opened(value: str | None) -> str | None:
            return plain.get(value) if value is not None and is_sealed(value) else value

        return opened

    def _token(
        self, account_id: UUID | None, spec: Link, params: dict[str, str | None]
    ) -> str | None:
        """A single-use token for the link, or None if the account's credentials are gone."""
        if account_id is None:
            return None
        exists = self.conn.execute(
            "SELECT 1 FROM credentials WHERE account_id = %s", (account_id,)
        ).fetchone()
        if exists is None:
            return None
        payload = params.get(spec.payload_param) if spec.payload_param else None
        return tokens.issue(self.conn, account_id, spec.purpose, payload)

    def _message(
        self, message_key: str, address: str, rendered: Rendered, token: str | None
    ) -> EmailMessage:
        identity = f"{message_key}\x00{token or ''}".encode()
        message = EmailMessage()
        message["From"] = self.settings.mail_from
        message["To"] = address
        message["Subject"] = rendered.subject
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = f"<{hashlib.sha256(identity).hexdigest()[:40]}@{self.domain}>"
        message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
        message.set_content(rendered.body)
        return message

    def _finish(self, queued: Queued, outcome: str) -> None:
        """Record the outcome and forget the sealed address and parameters."""
        self.conn.execute(
            sql.SQL(
                """UPDATE {} SET status = %s, attempts = attempts + 1, done_at = now(),
                       recipient = NULL, params = '{{}}'
                   WHERE message_key = %s"""
            ).format(self.queue),
            (outcome, queued.message_key),
        )
        self.outcomes[outcome] += 1

    def _retry_later(self, queued: Queued, error: Exception) -> None:
        attempts = queued.attempts + 1
        delay = min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** (attempts - 1))
        final = attempts >= MAX_ATTEMPTS or _permanent(error)
        self._record_attempt(queued, attempts, error, delay, final=final)
        if final:
            self.outcomes[FAILED] += 1
            log.error(
                "mail %s failed for good after %d attempt(s) (%s)",
                queued.template,
                attempts,
                _describe(error),
            )
        else:
            log.warning(
                "mail %s: attempt %d failed (%s); retrying in %d s",
                queued.template,
                attempts,
                _describe(error),
                delay,
            )

    def _record_attempt(
        self, queued: Queued, attempts: int, error: Exception, delay: int, *, final: bool
    ) -> None:
        """The failed attempt, and when to try again; a final failure forgets the recipient
        and the message's parameters."""
        self.conn.execute(
            sql.SQL(
                """UPDATE {} SET attempts = %(attempts)s, last_error = %(error)s,
                       next_attempt_at = now() + make_interval(secs => %(delay)s),
                       status = CASE WHEN %(final)s THEN 'failed' ELSE status END,
                       done_at = CASE WHEN %(final)s THEN now() END,
                       recipient = CASE WHEN %(final)s THEN NULL ELSE recipient END,
                       params = CASE WHEN %(final)s THEN '{{}}' ELSE params END
                   WHERE message_key = %(key)s"""
            ).format(self.queue),
            {
                "attempts": attempts,
                "error": _describe(error),
                "delay": delay,
                "final": final,
                "key": queued.message_key,
            },
        )


def _permanent(error: Exception) -> bool:
    """A refusal that retrying cannot change (5xx), rather than a hiccup (4xx, network)."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in error.recipients.values())
    return isinstance(error, smtplib.SMTPResponseException) and error.smtp_code >= 500


def _describe(error: Exception) -> str:
    """The error's class and SMTP code: its message may quote an address."""
    if isinstance(error, smtplib.SMTPResponseException):
        return f"{type(error).__name__} {error.smtp_code}"
    return type(error).__name__

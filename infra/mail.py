"""Where e-mails go: an SMTP server (`smtp_url`), or else a local Maildir.

`smtp://host:port` (plain), `smtp+starttls://user:password@host:port` (upgraded with
STARTTLS, certificate checked) and `smtps://...` (TLS from the start). Without
`smtp_url`, messages are written to `STATE_DIR/mailbox`, a Maildir any mail reader opens.
"""

import mailbox
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

from infra.settings import Settings

SMTP_TIMEOUT_S = 30.0
DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}


class Transport(Protocol):
    def send(self, message: EmailMessage) -> None:
        """Hand the message over; raise if it was not accepted."""
        ...


@dataclass(frozen=True)
class SmtpTransport:
    scheme: str
    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = SMTP_TIMEOUT_S

    @classmethod
    def from_url(cls, url: str) -> "SmtpTransport":
        parts = urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            raise SystemExit(
                "JALUR_SMTP_URL must be smtp://, smtp+starttls:// or smtps://"
                "[user:password@]host[:port]"
            )
        return cls(
            scheme=parts.scheme,
            host=parts.hostname,
            port=parts.port or DEFAULT_PORTS[parts.scheme],
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )

    def send(self, message: EmailMessage) -> None:
        with self._connect() as smtp:
            if self.scheme == "smtp+starttls":
                smtp.starttls(context=ssl.create_default_context())
            if self.username is not None:
                smtp.login(self.username, self.password or "")
            smtp.send_message(message)

    def _connect(self) -> smtplib.SMTP:
        if self.scheme == "smtps":
            return smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
            )
        return smtplib.SMTP(self.host, self.port, timeout=self.timeout)


class MaildirTransport:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._box = mailbox.Maildir(path, create=True)  # creates its folders mode 0700

    def send(self, message: EmailMessage) -> None:
        self._box.add(message)


def transport_for(settings: Settings) -> Transport:
    if settings.smtp_url:
        return SmtpTransport.from_url(settings.smtp_url)
    return MaildirTransport(settings.mailbox_dir)

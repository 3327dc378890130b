"""People for end-to-end tests: customers who register and follow the links they are
e-mailed (read from the Maildir `jalur up` writes to), and staff made with the CLI."""

import mailbox
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from email.message import Message
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin
from uuid import uuid4

import httpx
import psycopg

from infra.postgres.tokens import digest
from tests.authenticator import Authenticator, enrol
from tests.e2e.conftest import banner_value
from tests.support import ROOT, wait_until

# Staff must use a second factor: each person's authenticator, by user id, so every
# helper that signs them in again can send a fresh code.
AUTHENTICATORS: dict[str, Authenticator] = {}
LINK = re.compile(r"https?://\S+?/([a-z-]+)\?token=([A-Za-z0-9_-]+)")


@dataclass
class Person:
    user_id: str
    password: str
    email: str | None
    headers: dict[str, str]
    display_name: str = ""
    phone: str = ""


def _body(message: Message) -> str:
    part = message.get_payload(decode=True) if not message.is_multipart() else None
    if isinstance(part, bytes):
        return part.decode(errors="replace")
    return "".join(_body(sub) for sub in message.walk() if not sub.is_multipart())


def mails_to(state_dir: Path, address: str) -> list[Message]:
    folder = state_dir / "mailbox"
    if not folder.exists():
        return []
    return [m for m in mailbox.Maildir(folder, create=False) if address in (m["To"] or "")]


def link_url(state_dir: Path, address: str, kind: str, timeout: float = 60) -> str:
    """The newest `kind` link (verify-email, reset-password, confirm-email) e-mailed to
    `address`, in full, waiting for it to arrive."""
    found: list[str] = []

    def arrived() -> bool:
        links = [
            link.group(0)
            for message in mails_to(state_dir, address)
            for link in LINK.finditer(_body(message))
            if link.group(1) == kind
        ]
        found[:] = links
        return bool(links)

    assert wait_until(arrived, timeout), f"no {kind} link reached {address}"
    token = LINK.fullmatch(found[-1])
    assert token is not None
    committed = wait_until(lambda: _committed(state_dir, token.group(2)), timeout)
    assert committed, f"{kind} never committed"
    return found[-1]


def link_token(state_dir: Path, address: str, kind: str, timeout: float = 60) -> str:
    """The token of the newest `kind` link e-mailed to `address`."""
    match = LINK.fullmatch(link_url(state_dir, address, kind, timeout))
    assert match is not None
    return match.group(2)


@dataclass
class Form:
    action: str = ""
    method: str = ""
    hidden: dict[str, str] = field(default_factory=dict)
    inputs: list[str] = field(default_factory=list)  # names of the fields a person fills in


class _FormReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "script":
            self.scripts += 1
        elif tag == "form":
            self.forms.append(Form(attributes.get("action", ""), attributes.get("method", "")))
        elif tag == "input" and self.forms:
            if attributes.get("type") == "hidden":
                self.forms[-1].hidden[attributes["name"]] = attributes.get("value", "")
            else:
                self.forms[-1].inputs.append(attributes["name"])


def page_form(html: str) -> Form:
    """The one form of a page that needs no script."""
    reader = _FormReader()
    reader.feed(html)
    assert reader.scripts == 0, "a page with script"
    assert len(reader.forms) == 1, html
    return reader.forms[0]


def follow_link(client: httpx.Client, url: str, **values: str) -> httpx.Response:
    """Open a link from an e-mail as a browser without script would, fill in its form with
    `values` (by field name) and post it to the form's action."""
    shown = client.get(url)
    assert shown.status_code == 200, shown.text
    form = page_form(shown.text)
    assert form.method.lower() == "post"
    assert sorted(form.inputs) == sorted(values), form.inputs
    return client.post(urljoin(url, form.action), data=form.hidden | values)


def _committed(state_dir: Path, token: str) -> bool:
    """The mail sender hands a message over before it commits the token in its link, so a
    test, faster than any reader, waits for that commit before following the link."""
    database_url = banner_value(state_dir / "up.log", "database")
    with psycopg.connect(database_url) as conn:
        query = "SELECT 1 FROM one_time_tokens WHERE token_hash = %s"
        return conn.execute(query, (digest(token),)).fetchone() is not None


def sign_in(client: httpx.Client, user_id: str, password: str) -> dict[str, str]:
    """A full session: with a code when the person has a second factor, and enrolling one
    first when their role needs it and they have none yet."""
    body = {"user_id": user_id, "password": password}
    if user_id in AUTHENTICATORS:
        body["one_time_code"] = AUTHENTICATORS[user_id].code()
    answer = client.post("/v1/sessions", json=body)
    assert answer.status_code == 201, answer.text
    headers = {"Authorization": f"Bearer {answer.json()['token']}"}
    if answer.json()["mfa_enrolment_required"]:
        AUTHENTICATORS[user_id] = enrol(client, headers, password)
    return headers


def verified_customer(client: httpx.Client, state_dir: Path, name: str) -> Person:
    person = registered_customer(client, name)
    token = link_token(state_dir, person.email or "", "verify-email")
    proof = {"token": token, "password": person.password}
    verified = client.post("/v1/accounts/verify-email", json=proof)
    assert verified.status_code == 200, verified.text
    person.headers = sign_in(client, person.user_id, person.password)
    return person


def registered_customer(client: httpx.Client, name: str) -> Person:
    """A customer who registered and has not yet followed the verification link."""
    user_id = f"{name.lower()}-{uuid4().hex[:6]}"
    email = f"{user_id}@example.id"
    person = Person(user_id, f"kopi tubruk {uuid4().hex[:8]}", email, {}, name, "081200001111")
    registration = {
        "user_id": user_id,
        "email": email,
        "password": person.password,
        "display_name": f"{name} Wijaya",
        "phone": person.phone,
    }
    person.display_name = registration["display_name"]
    assert client.post("/v1/accounts", json=registration).status_code == 202
    return person


HUB_ROLES = ("courier", "hub_operator")


def create_staff(
    database_url: str,
    state_dir: Path,
    role: str,
    user_id: str,
    password: str,
    hub: str | None = None,
) -> None:
    """`jalur users create`; couriers and hub operators belong to a hub (CGK10000 unless
    told)."""
    if hub is None and role in HUB_ROLES:
        hub = "CGK10000"
    env = {
        **os.environ,
        "JALUR_DATABASE_URL": database_url,
        "JALUR_STATE_DIR": str(state_dir),
        "PYTHONPATH": str(ROOT),
    }
    subprocess.run(
        [
            sys.executable,
            "-m",
            "infra.runtime.cli",
            "users",
            "create",
            "--role",
            role,
            "--user-id",
            user_id,
            *(["--hub", hub] if hub else []),
        ],
        input=password + "\n",
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )


def staff(
    client: httpx.Client, system_db: str, state_dir: Path, role: str, hub: str | None = None
) -> Person:
    user_id = f"{role.replace('_', '-')}-{uuid4().hex[:6]}"
    password = f"teh manis hangat {uuid4().hex[:6]}"
    create_staff(system_db, state_dir, role, user_id, password, hub)
    return Person(user_id, password, None, sign_in(client, user_id, password))


def courier_key(system_db: str, state_dir: Path, hub: str) -> str:
    """A new courier of `hub` and the secret of a device key bound to them: scans sent
    with it are the courier's (domain/custody.py)."""
    from tests.e2e.conftest import create_key

    user_id = f"courier-{uuid4().hex[:6]}"
    create_staff(system_db, state_dir, "courier", user_id, f"kopi tubruk {uuid4().hex}", hub)
    return create_key(system_db, hub, courier=user_id, state_dir=state_dir)

"""People for end-to-end tests: customers who register and follow the links they are
e-mailed (read from the Maildir `jalur up` writes to), and staff made with the CLI."""

import mailbox
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from uuid import uuid4

import httpx
import psycopg

from infra.postgres.tokens import digest
from tests.e2e.conftest import banner_value
from tests.support import ROOT, wait_until

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


def link_token(state_dir: Path, address: str, kind: str, timeout: float = 60) -> str:
    """The token of the newest `kind` link (verify-email, reset-password, confirm-email)
    e-mailed to `address`, waiting for it to arrive."""
    found: list[str] = []

    def arrived() -> bool:
        tokens = [
            token
            for message in mails_to(state_dir, address)
            for link_kind, token in LINK.findall(_body(message))
            if link_kind == kind
        ]
        found[:] = tokens
        return bool(tokens)

    assert wait_until(arrived, timeout), f"no {kind} link reached {address}"
    assert wait_until(lambda: _committed(state_dir, found[-1]), timeout), f"{kind} never committed"
    return found[-1]


def _committed(state_dir: Path, token: str) -> bool:
    """The mail sender hands a message over before it commits the token in its link, so a
    test, faster than any reader, waits for that commit before following the link."""
    database_url = banner_value(state_dir / "up.log", "database")
    with psycopg.connect(database_url) as conn:
        query = "SELECT 1 FROM one_time_tokens WHERE token_hash = %s"
        return conn.execute(query, (digest(token),)).fetchone() is not None


def sign_in(client: httpx.Client, user_id: str, password: str) -> dict[str, str]:
    answer = client.post("/v1/sessions", json={"user_id": user_id, "password": password})
    assert answer.status_code == 201, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def verified_customer(client: httpx.Client, state_dir: Path, name: str) -> Person:
    person = registered_customer(client, name)
    token = link_token(state_dir, person.email or "", "verify-email")
    verified = client.post("/v1/accounts/verify-email", json={"token": token})
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


def create_staff(
    database_url: str, state_dir: Path, role: str, user_id: str, password: str
) -> None:
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
        ],
        input=password + "\n",
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )


def staff(client: httpx.Client, system_db: str, state_dir: Path, role: str) -> Person:
    user_id = f"{role.replace('_', '-')}-{uuid4().hex[:6]}"
    password = f"teh manis hangat {uuid4().hex[:6]}"
    create_staff(system_db, state_dir, role, user_id, password)
    return Person(user_id, password, None, sign_in(client, user_id, password))

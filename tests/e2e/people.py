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
    return found[-1]


def sign_in(client: httpx.Client, user_id: str, password: str) -> dict[str, str]:
    answer = client.post("/v1/sessions", json={"user_id": user_id, "password": password})
    assert answer.status_code == 201, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def verified_customer(client: httpx.Client, state_dir: Path, name: str) -> Person:
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
    token = link_token(state_dir, email, "verify-email")
    verified = client.post("/v1/accounts/verify-email", json={"token": token})
    assert verified.status_code == 200, verified.text
    person.headers = sign_in(client, user_id, person.password)
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

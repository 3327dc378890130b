"""Shared helpers for integration and end-to-end tests."""

import base64
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

from pydantic import SecretStr

from commands.shipments import Shipments
from domain.booking import Booking, Parcel, Party
from domain.shipments import Scan
from infra.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
BOOKED_AT = T0 - timedelta(hours=1)  # the "now" of bookings in tests
LATER = T0 + timedelta(days=1)  # the "now" of scans in tests: every test scan is in its past
TRANSIT_CODES = ("OP1", "OP2", "OP3", "TP4", "IP1", "IP2")


def booking(n: int = 0, *, cod: int | None = None) -> Booking:
    return Booking(
        service="REG",
        shipper=Party(f"Budi Santoso {n}", "081234567890", f"Jl. Merdeka {n}", "CGK10110"),
        receiver=Party(f"Siti Aminah {n}", "081298765432", f"Jl. Pemuda {n}", "SUB60111"),
        parcel=Parcel(1200, 10, 10, 10, 150_000),
        cod_amount=cod,
    )


def transit_scan(step: int, *, at: datetime | None = None) -> Scan:
    """A hub scan that any open shipment accepts, timed `step` minutes after T0."""
    return Scan(
        scan_id=uuid4(),
        code=TRANSIT_CODES[step % len(TRANSIT_CODES)],
        scanned_at=at or T0 + timedelta(minutes=step),
        location="CGK10000",
        actor="key_test",
    )


def book_and_scan(shipments: Shipments, count: int, rounds: int = 0) -> list[str]:
    """Book `count` shipments, then give each `rounds` hub scans; return their AWBs."""
    awbs = [shipments.book(booking(n), actor="key_test", now=BOOKED_AT).awb for n in range(count)]
    for step in range(rounds):
        shipments.record_scans([(awb, transit_scan(step)) for awb in awbs], LATER)
    return awbs


def new_master_key() -> SecretStr:
    return SecretStr(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that gives a child process the same settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JALUR_")}
    for name, value in settings.model_dump(exclude_none=True).items():
        plain = value.get_secret_value() if isinstance(value, SecretStr) else value
        env[f"JALUR_{name.upper()}"] = json.dumps(plain) if isinstance(plain, dict) else str(plain)
    env["PYTHONPATH"] = str(ROOT)
    return env


def start_process(settings: Settings, *args: str, log: Path) -> subprocess.Popen[bytes]:
    """Start `jalur ARGS...` as a real child process."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "infra.cli", *args],
            env=settings_env(settings),
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()

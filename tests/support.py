"""Shared helpers for integration and end-to-end tests."""

import base64
import json
import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from uuid import uuid4

from psycopg import sql as psycopg_sql
from pydantic import SecretStr

from commands.shipments import Shipments
from domain.booking import Booking, Parcel, Party
from domain.shipments import Scan
from infra.settings import Settings

T = TypeVar("T")
R = TypeVar("R")
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
        hub="CGK10000",
    )


COURIER = "account:00000000-0000-4000-8000-00000000c0c0"  # a courier of hub SUB60000


def courier_scan(code: str, at: datetime, location: str = "SUB60111", **extra: Any) -> Scan:
    """A scan by a courier of the Surabaya hub, where booking()'s parcels go."""
    return Scan(uuid4(), code, at, location, COURIER, hub="SUB60000", by_courier=True, **extra)


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
            [sys.executable, "-m", "infra.runtime.cli", *args],
            env=settings_env(settings),
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def run_jalur(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """Run an operator command (`jalur ARGS...`) to its end, as an operator would."""
    return subprocess.run(
        [sys.executable, "-m", "infra.runtime.cli", *args],
        env=settings_env(settings),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


class Threads:
    """Threads whose exceptions fail the test. `start` runs a target on a new thread;
    `join` waits for all of them and raises if any raised or is still running."""

    def __init__(self) -> None:
        self.errors: list[BaseException] = []
        self._threads: list[threading.Thread] = []

    def start(self, target: Callable[..., Any], *args: Any) -> None:
        def guarded() -> None:
            try:
                target(*args)
            except BaseException as error:
                self.errors.append(error)

        thread = threading.Thread(target=guarded, name=getattr(target, "__qualname__", None))
        self._threads.append(thread)
        thread.start()

    def join(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        stuck = [t.name for t in self._threads if t.is_alive()]
        assert not stuck, f"threads still running after {timeout}s: {stuck}"
        if self.errors:
            raise AssertionError(f"{len(self.errors)} thread(s) raised: {self.errors!r}") from (
                self.errors[0]
            )


def run_at_once(work: Callable[[T], R], inputs: Iterable[T], timeout: float = 120) -> list[R]:
    """`work(x)` for every input, each on its own thread, released together by a barrier;
    the results in input order. Any thread's exception fails the caller, and so does a
    missing result: exactly one result per input or an AssertionError."""
    items = list(inputs)
    barrier = threading.Barrier(len(items))
    results: dict[int, R] = {}

    def one(index: int, item: T) -> None:
        barrier.wait(timeout)
        results[index] = work(item)

    threads = Threads()
    for index, item in enumerate(items):
        threads.start(one, index, item)
    threads.join(timeout)
    assert len(results) == len(items), f"{len(results)} results for {len(items)} inputs"
    return [results[index] for index in range(len(items))]


def database_snapshot(conn: Any, exclude: Iterable[str] = ()) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table and view in every schema of the database (system schemas aside),
    by "schema.table", rows in a stable order; `exclude` names tables left out."""
    skipped = set(exclude)
    tables = conn.execute(
        """SELECT table_schema || '.' || table_name FROM information_schema.tables
           WHERE table_type IN ('BASE TABLE', 'VIEW')
             AND table_schema NOT IN ('pg_catalog', 'information_schema')
           ORDER BY 1"""
    ).fetchall()
    unknown = skipped - {name for (name,) in tables}
    assert not unknown, f"excluded tables that do not exist: {unknown}"
    snapshot: dict[str, list[tuple[Any, ...]]] = {}
    for (name,) in tables:
        if name not in skipped:
            schema, table = name.split(".", 1)
            query = psycopg_sql.SQL("SELECT * FROM {}.{}").format(
                psycopg_sql.Identifier(schema), psycopg_sql.Identifier(table)
            )
            snapshot[name] = sorted(conn.execute(query).fetchall(), key=repr)
    return snapshot

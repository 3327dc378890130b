"""kill -9 of the API, the relay and the tracking consumer, at random moments while hub
devices book and scan over HTTPS, each restarted at once: the end state is judged against
the devices' own ledgers of acknowledged writes, not against the product's rules. Every
acknowledged booking is one shipment, every acknowledged scan is applied exactly once, and
nothing appears that no device was told of."""

import os
import random
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import psycopg
import pytest

from commands.shipments import Shipments
from consumers.registry import projection
from consumers.verify import verify
from infra.postgres.device_keys import create_key
from infra.runtime.bootstrap import build_applications
from infra.runtime.embedded import free_port
from infra.runtime.tls import ensure_certificate
from infra.settings import Settings
from tests.integration.crashes import Processes
from tests.integration.devices import HUB, Device, Ledger
from tests.support import wait_until

DEVICES = 8
KILLS_EACH = 4
COMMANDS = {"api": ("api",), "relay": ("relay",), "consumer": ("consume", "tracking")}
BOOKED = "domain.shipments:Shipment.Booked"
SCAN_RECORDED = "domain.shipments:Shipment.ScanRecorded"


@pytest.fixture
def https_settings(settings: Settings, tmp_path: Path) -> Settings:
    state_dir = tmp_path / "state"
    cert, key = ensure_certificate(state_dir)
    changes = {"state_dir": state_dir, "api_port": free_port(), "tls_cert": cert, "tls_key": key}
    return settings.model_copy(update=changes)


def api_url(settings: Settings) -> str:
    return f"https://{settings.api_host}:{settings.api_port}"


def api_healthy(settings: Settings) -> bool:
    assert settings.tls_cert is not None
    context = ssl.create_default_context(cafile=str(settings.tls_cert))
    try:
        answer = httpx.get(f"{api_url(settings)}/healthz", verify=context, timeout=2)
    except httpx.TransportError:
        return False
    return answer.status_code == 200


def wait_for_api(processes: Processes) -> None:
    healthy = wait_until(lambda: api_healthy(processes.settings), timeout=60)
    assert healthy, f"the API did not come back:\n{processes.log('api').read_text()[-3000:]}"


class Fleet:
    """DEVICES devices, each with its own key, writing on threads until stopped."""

    def __init__(self, settings: Settings, seed: str) -> None:
        with psycopg.connect(settings.require_database_url(), autocommit=True) as conn:
            secrets = [create_key(conn, HUB, f"crash device {n}")[1] for n in range(DEVICES)]
        cert = str(settings.tls_cert)
        self.devices = [
            Device(api_url(settings), cert, secret, f"device{n}", seed)
            for n, secret in enumerate(secrets)
        ]
        self.stop = threading.Event()
        self.ledgers: list[Ledger] = []
        self.errors: list[BaseException] = []
        self.threads = [threading.Thread(target=self._run, args=(d,)) for d in self.devices]

    def _run(self, device: Device) -> None:
        try:
            self.ledgers.append(device.run(self.stop))
        except BaseException as error:  # any failure of a device fails the test
            self.errors.append(error)

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=120)


@dataclass
class System:
    shipments: Shipments  # this process's own, for the replay
    processes: Processes
    fleet: Fleet


@pytest.fixture
def system(https_settings: Settings, tmp_path: Path) -> Iterator[System]:
    apps = build_applications(https_settings)  # the tables, before any process or key
    fleet = Fleet(https_settings, os.environ.get("JALUR_TEST_SEED", "crash"))
    processes = Processes(https_settings, tmp_path, COMMANDS)
    try:
        yield System(apps.shipments, processes, fleet)
    finally:
        fleet.finish()
        processes.stop()
        apps.close()


def kill_at_random(processes: Processes, chance: random.Random) -> None:
    """KILLS_EACH kills of each process in a shuffled order, at random intervals."""
    schedule = list(COMMANDS) * KILLS_EACH
    chance.shuffle(schedule)
    for name in schedule:
        time.sleep(chance.uniform(0.5, 2.5))
        processes.kill_and_restart(name)
        if name == "api":  # the next kill should find it serving again
            wait_for_api(processes)


def merged(ledgers: list[Ledger]) -> Ledger:
    whole = Ledger()
    for ledger in ledgers:
        whole.bookings |= ledger.bookings
        whole.scans |= ledger.scans
        whole.tokens |= ledger.tokens
        whole.requests += ledger.requests
        whole.failures += ledger.failures
        whole.acknowledged_on_retry += ledger.acknowledged_on_retry
        whole.already_recorded += ledger.already_recorded
    return whole


def projected_scan_counts(database_url: str) -> dict[str, int]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT awb, scan_count FROM tracking_shipments").fetchall()
    return dict(rows)


def booked_awbs(conn: psycopg.Connection[Any]) -> list[str]:
    """The AWB of every ShipmentBooked event in the event store, read from the table."""
    rows = conn.execute(
        """SELECT convert_from(state, 'UTF8')::jsonb ->> 'awb' FROM shipments.shipments_events
           WHERE topic = %s""",
        (BOOKED,),
    ).fetchall()
    return [awb for (awb,) in rows]


def stored_scans(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute(
        "SELECT count(*) FROM shipments.shipments_events WHERE topic = %s", (SCAN_RECORDED,)
    ).fetchone()
    assert row is not None
    return int(row[0])


def projected_scans(conn: psycopg.Connection[Any]) -> list[tuple[UUID, str]]:
    return conn.execute(
        """SELECT scan.scan_id, shipment.awb
           FROM tracking_scans scan JOIN tracking_shipments shipment USING (shipment_id)"""
    ).fetchall()


def tracked_history_lengths(settings: Settings, ledger: Ledger) -> dict[str, int]:
    """What public tracking shows, read with each shipment's last consistency token."""
    found: dict[str, int] = {}
    context = ssl.create_default_context(cafile=str(settings.tls_cert))
    with httpx.Client(base_url=api_url(settings), verify=context, timeout=30) as client:
        for awb, token in ledger.tokens.items():
            answer = client.get(f"/v1/track/{awb}", params={"consistency_token": token})
            assert answer.status_code == 200, answer.text
            found[awb] = len(answer.json()["history"])
    return found


def assert_state_matches_the_ledger(
    settings: Settings, ledger: Ledger, shipments: Shipments
) -> None:
    database_url = settings.require_database_url()
    expected = dict(ledger.scan_counts())
    caught_up = wait_until(lambda: projected_scan_counts(database_url) == expected, timeout=120)
    projected = projected_scan_counts(database_url)
    assert caught_up, f"{len(projected)} shipments projected, {len(expected)} acknowledged; " + (
        f"differing: {sorted(set(projected.items()) ^ set(expected.items()))[:20]}"
    )
    with psycopg.connect(database_url, autocommit=True) as conn:
        booked = booked_awbs(conn)
        assert sorted(booked) == sorted(ledger.bookings.values())
        assert len(set(booked)) == len(ledger.bookings)  # one shipment per Idempotency-Key
        assert stored_scans(conn) == len(ledger.scans)
        rows = projected_scans(conn)
        assert len(rows) == len(ledger.scans)
        assert dict(rows) == ledger.scans
        assert verify(conn, projection("tracking"), [shipments]) == []
    assert tracked_history_lengths(settings, ledger) == expected


@pytest.mark.slow
def test_kill_9_of_api_relay_and_consumer_keeps_every_acknowledged_write_once(
    https_settings: Settings, system: System
) -> None:
    fleet, processes = system.fleet, system.processes
    chance = random.Random(os.environ.get("JALUR_TEST_SEED", "crash"))
    started = time.monotonic()
    wait_for_api(processes)
    fleet.start()
    kill_at_random(processes, chance)
    fleet.finish()
    writing_s = time.monotonic() - started

    assert fleet.errors == []
    assert len(fleet.ledgers) == DEVICES
    ledger = merged(fleet.ledgers)
    assert ledger.acknowledged_on_retry > 0  # the kills did interrupt writes
    assert_state_matches_the_ledger(https_settings, ledger, system.shipments)
    assert all(count >= 3 for count in processes.kills.values()), processes.kills
    print(
        f"\n{len(ledger.bookings)} bookings and {len(ledger.scans)} scans acknowledged"
        f" in {ledger.requests} requests; retried after {dict(ledger.failures)};"
        f" {ledger.acknowledged_on_retry} writes acknowledged on a retry,"
        f" {ledger.already_recorded} scans answered 'already recorded'; kills {processes.kills};"
        f" writing {writing_s:.0f}s, total {time.monotonic() - started:.0f}s"
    )

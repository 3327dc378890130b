"""`jalur up` as a real subprocess with no configuration: embedded PostgreSQL and broker,
HTTPS with its self-signed certificate. Tests talk to it as outsiders do."""

import os
import re
import signal
import ssl
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from infra.runtime.embedded import free_port
from tests.support import ROOT, wait_until


@dataclass
class System:
    url: str
    cert: Path
    database_url: str
    api_key: str
    process: subprocess.Popen[str]
    state_dir: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, verify=trusting(self.cert), timeout=30)


def trusting(cert: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert))


def banner_value(output: Path, label: str, timeout: float = 120) -> str:
    pattern = re.compile(rf"^\s*{label}\s+(\S+)", re.MULTILINE)
    found: list[str] = []

    def seen() -> bool:
        found[:] = pattern.findall(output.read_text())
        return bool(found)

    assert wait_until(seen, timeout), f"`jalur up` never printed {label}:\n{output.read_text()}"
    return found[0]


def create_key(
    database_url: str,
    hub: str = "CGK10000",
    courier: str | None = None,
    state_dir: Path | None = None,
) -> str:
    """`jalur keys create` for a hub; bound to a courier (by user id) when named, which
    needs the state directory (the master key finds the user id's blind index)."""
    env = {**os.environ, "JALUR_DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)}
    if state_dir is not None:
        env["JALUR_STATE_DIR"] = str(state_dir)
    bound = ["--courier", courier] if courier else []
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "infra.runtime.cli",
            "keys",
            "create",
            "--hub",
            hub,
            "--label",
            "e2e",
            *bound,
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return str(re.findall(r"secret: (\S+)", result.stdout)[0])


def _healthy(url: str, cert: Path) -> bool:
    if not cert.exists():
        return False
    try:
        return httpx.get(f"{url}/healthz", verify=trusting(cert), timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


# Every e2e test, Schemathesis's generated requests included, registers, books and asks
# for resets from 127.0.0.1 against one system: far more than one address does in an
# hour. The limits themselves are tested in tests/integration/test_rate_limits.py.
GENEROUS_LIMITS = {
    "JALUR_LIMIT_REGISTRATIONS_PER_ADDRESS_HOUR": "100000",
    "JALUR_LIMIT_REGISTRATIONS_PER_EMAIL_HOUR": "100000",
    "JALUR_LIMIT_BOOKINGS_PER_ACCOUNT_MINUTE": "100000",
    "JALUR_LIMIT_BOOKINGS_PER_ADDRESS_MINUTE": "100000",
    "JALUR_LIMIT_PASSWORD_RESETS_PER_ACCOUNT_HOUR": "100000",
    "JALUR_LIMIT_PASSWORD_RESETS_PER_ADDRESS_HOUR": "100000",
    "JALUR_LIMIT_TRACKING_MISSES_PER_ADDRESS_15MIN": "100000",
}


def start_up(state_dir: Path, port: int) -> tuple[subprocess.Popen[str], Path]:
    """`jalur up` with nothing configured but where to keep its state, which port to use
    and limits wide enough for the whole suite from one address."""
    output = state_dir / "up.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("JALUR_")}
    env |= {"JALUR_STATE_DIR": str(state_dir), "JALUR_API_PORT": str(port), "PYTHONPATH": str(ROOT)}
    env |= GENEROUS_LIMITS
    with output.open("a") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "infra.runtime.cli", "up"],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
    return process, output


def wait_healthy(url: str, cert: Path, output: Path) -> None:
    assert wait_until(lambda: _healthy(url, cert), timeout=120), output.read_text()


@dataclass
class Devices:
    """Where tests/e2e/test_system.booking()'s parcels go (Yogyakarta): a hub device at
    JOG55211 and the phone of a courier of hub JOG55000."""

    hub: dict[str, str]
    courier: dict[str, str]


@pytest.fixture(scope="session")
def jog(system: System) -> Devices:
    from tests.e2e.people import courier_key

    hub = create_key(system.database_url, "JOG55211")
    courier = courier_key(system.database_url, system.state_dir, "JOG55000")
    return Devices({"X-API-Key": hub}, {"X-API-Key": courier})


@pytest.fixture(scope="session")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    state_dir = tmp_path_factory.mktemp("state")
    port = free_port()
    process, output = start_up(state_dir, port)
    try:
        url = f"https://127.0.0.1:{port}"
        database_url = banner_value(output, "database")
        cert = state_dir / "tls" / "cert.pem"
        wait_healthy(url, cert, output)
        yield System(url, cert, database_url, create_key(database_url), process, state_dir)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)

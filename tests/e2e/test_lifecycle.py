"""`jalur up` as a supervisor users can trust: whatever ends it, SIGKILL included, nothing
it started outlives it by more than a few seconds; a new `jalur up` in the same folder
stops what a crashed run left and keeps the data; a second one while the first runs is
refused; operator commands find the running system from its folder alone."""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from infra.host.processes import Recorded
from infra.runtime.embedded import free_port
from tests.e2e.conftest import trusting, wait_healthy
from tests.e2e.test_system import booking
from tests.support import ROOT, wait_until

GONE_WITHIN_S = 5.0  # the promise: nothing outlives `jalur up` by more than this


class Up:
    """One `jalur up` run, started as from its own terminal: the leader of its own session
    and process group, so that the test can kill that group as a closed terminal does."""

    def __init__(self, state_dir: Path, port: int, name: str) -> None:
        self.state_dir, self.url = state_dir, f"https://127.0.0.1:{port}"
        self.cert = state_dir / "tls" / "cert.pem"
        self.output = state_dir / f"{name}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("JALUR_")}
        env |= {"JALUR_STATE_DIR": str(state_dir), "JALUR_API_PORT": str(port)}
        with self.output.open("a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "infra.runtime.cli", "up"],
                env=env | {"PYTHONPATH": str(ROOT)},
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_healthy(self) -> None:
        wait_healthy(self.url, self.cert, self.output)

    def started(self) -> dict[str, Recorded]:
        """Everything this run started, as it recorded it, and its PostgreSQL server."""
        found = {}
        for pid_file in (self.state_dir / "run").glob("*.pid"):
            recorded = Recorded.parse(pid_file.read_text())
            assert recorded is not None, pid_file
            found[pid_file.stem] = recorded
        postmaster = int((self.state_dir / "postgres" / "postmaster.pid").read_text().split()[0])
        postgres = Recorded.of(postmaster)
        assert postgres is not None
        assert {"up", "watchdog", "broker", "api", "relay", "consume-tracking"} <= set(found)
        return found | {"postgres": postgres}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(timeout=60)


def alive(processes: dict[str, Recorded]) -> list[str]:
    return sorted(name for name, process in processes.items() if process.alive())


def processes_mentioning(marker: str) -> list[str]:
    listing = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True, check=True)
    return [line for line in listing.stdout.splitlines() if marker in line and "ps -eo" not in line]


def gone_within(processes: dict[str, Recorded], seconds: float) -> list[str]:
    """Those still alive after `seconds` (the processes are not ours to reap: `ps` state)."""
    wait_until(lambda: not alive(processes), seconds, interval=0.05)
    return alive(processes)


def jalur(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """An operator command given nothing but the state folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JALUR_")}
    return subprocess.run(
        [sys.executable, "-m", "infra.runtime.cli", *args],
        env=env | {"JALUR_STATE_DIR": str(state_dir), "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def tracked_once_projected(up: Up, awb: str, token: str) -> httpx.Response:
    """As a client reads its own write: a 503 (the read model is still catching up, as on a
    fresh start while the consumer joins its group) means ask again."""
    deadline = time.monotonic() + 60
    while True:
        answer = httpx.get(
            f"{up.url}/v1/track/{awb}",
            params={"consistency_token": token},
            verify=trusting(up.cert),
            timeout=30,
        )
        if answer.status_code != 503 or time.monotonic() > deadline:
            return answer


def book_with_a_key_from_the_state_dir(up: Up) -> tuple[str, str]:
    created = jalur(up.state_dir, "keys", "create", "--hub", "CGK10000")
    assert created.returncode == 0, created.stderr
    key = re.findall(r"secret: (\S+)", created.stdout)[0]
    booked = httpx.post(
        f"{up.url}/v1/shipments",
        json=booking(),
        headers={"X-API-Key": key},
        verify=trusting(up.cert),
        timeout=30,
    )
    assert booked.status_code == 201, booked.text
    return booked.json()["awb"], booked.json()["consistency_token"]


@pytest.fixture
def state_dir() -> Iterator[Path]:
    """Not under pytest's tmp_path: pytest resets /tmp/pytest-of-USER to mode 0700 whenever
    another session starts, which locks the embedded PostgreSQL (another system user) out
    of its own data directory mid-run."""
    path = Path(tempfile.mkdtemp(prefix="jalur-lifecycle-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_nothing_outlives_a_killed_jalur_up_and_the_next_one_keeps_the_data(
    state_dir: Path,
) -> None:
    port = free_port()
    first = Up(state_dir, port, "first")
    try:
        first.wait_healthy()
        awb, token = book_with_a_key_from_the_state_dir(first)
        assert tracked_once_projected(first, awb, token).status_code == 200
        started = first.started()
    finally:
        os.killpg(first.process.pid, signal.SIGKILL)  # a closed terminal, kill -9 of the group
    first.process.wait()
    assert gone_within(started, GONE_WITHIN_S) == [], first.output.read_text()
    assert processes_mentioning(str(state_dir)) == []

    second = Up(state_dir, port, "second")
    try:
        second.wait_healthy()
        tracked = tracked_once_projected(second, awb, token)
        assert tracked.status_code == 200, tracked.text
        assert tracked.json()["awb"] == awb

        refused = Up(state_dir, free_port(), "refused")
        assert refused.process.wait(timeout=60) != 0
        assert "jalur up is already running" in refused.output.read_text()

        started = second.started()
    except BaseException:
        second.stop()
        raise
    # The worst case: jalur up and its watchdog both die at once. PDEATHSIG still stops the
    # children and the broker; PostgreSQL is left for the next run to find.
    os.kill(second.process.pid, signal.SIGKILL)
    os.kill(started["watchdog"].pid, signal.SIGKILL)
    children = {k: v for k, v in started.items() if k not in ("watchdog", "postgres")}
    second.process.wait()
    assert gone_within(children, GONE_WITHIN_S) == [], second.output.read_text()
    assert alive({"postgres": started["postgres"]}) == ["postgres"]  # left for the next run

    third = Up(state_dir, port, "third")
    try:
        third.wait_healthy()
        assert alive({"postgres": started["postgres"]}) == []  # stopped, a new one serves
        tracked = tracked_once_projected(third, awb, token)
        assert tracked.status_code == 200, tracked.text
        started = third.started()
    finally:
        third.stop()
    assert third.process.returncode == 0, third.output.read_text()
    assert alive(started) == []
    assert processes_mentioning(str(state_dir)) == []

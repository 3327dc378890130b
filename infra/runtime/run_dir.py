"""STATE_DIR/run: what a `jalur up` is running, so that nothing it started is ever lost.

- `up.lock`: flock'ed by `jalur up` and its watchdog while either lives; a second
  `jalur up` in the same folder is refused, or waits while a watchdog finishes stopping
  a dead run.
- `NAME.pid`: "PID START_TIME" of each process it started (itself as `up`), so a later
  run stops what a crashed one left, and never a process that merely reuses a pid.
The embedded PostgreSQL needs no pid file of ours: its postmaster.pid is that record.
"""

import fcntl
import logging
import os
import time
from pathlib import Path

from infra.host.processes import Recorded, stop_postmaster, terminate

log = logging.getLogger(__name__)

LOCK_WAIT_S = 60.0  # longest a dead run's watchdog needs: children, then PostgreSQL
CHILD_GRACE_S = 4.0
POSTGRES_STOP_S = 60.0
UP, BROKER = "up", "broker"


class AlreadyRunning(SystemExit):
    pass


class RunDir:
    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "run"

    def lock(self) -> int:
        """The lock's descriptor, held; refuses while another `jalur up` runs here."""
        self.path.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.path / "up.lock", os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + LOCK_WAIT_S
        waited = False
        while not _try_lock(descriptor):
            if (other := self.recorded().get(UP)) is not None and other.alive():
                os.close(descriptor)
                raise AlreadyRunning(
                    f"jalur up is already running in {self.path.parent} (pid {other.pid});"
                    " stop it first, or give this one another JALUR_STATE_DIR."
                )
            if time.monotonic() > deadline:
                os.close(descriptor)
                raise AlreadyRunning(
                    f"{self.path / 'up.lock'} is still locked; is a watchdog stuck?"
                )
            if not waited:
                log.info("waiting for the previous run's watchdog to stop what it started")
                waited = True
            time.sleep(0.2)
        return descriptor

    def record(self, name: str, pid: int) -> None:
        recorded = Recorded.of(pid)
        if recorded is not None:
            self._pid_file(name).write_text(f"{recorded}\n")

    def forget(self, name: str) -> None:
        self._pid_file(name).unlink(missing_ok=True)

    def recorded(self) -> dict[str, Recorded]:
        found = {}
        for pid_file in self.path.glob("*.pid"):
            with_start = Recorded.parse(pid_file.read_text())
            if with_start is not None:
                found[pid_file.stem] = with_start
        return found

    def stop_leftovers(self, postgres_dir: Path | None) -> None:
        """Stop what a run that is gone left running: its children, then the broker, then
        PostgreSQL (fast shutdown, never SIGKILL). Call only while holding the lock."""
        recorded = {
            name: process
            for name, process in self.recorded().items()
            if name != UP and process.pid != os.getpid() and process.alive()
        }
        if recorded:
            log.info("stopping what an earlier run left: %s", ", ".join(sorted(recorded)))
        broker = recorded.pop(BROKER, None)
        terminate(list(recorded.values()), CHILD_GRACE_S)
        terminate([broker] if broker else [], CHILD_GRACE_S)
        if postgres_dir is not None and not stop_postmaster(postgres_dir, POSTGRES_STOP_S):
            log.error("the embedded PostgreSQL in %s did not stop", postgres_dir)
        self.clear()

    def clear(self) -> None:
        """Forget everything recorded: nothing of a run is left."""
        for recorded in [*self.path.glob("*.pid"), self.endpoints]:
            recorded.unlink(missing_ok=True)

    @property
    def endpoints(self) -> Path:
        return self.path / "endpoints.json"

    def _pid_file(self, name: str) -> Path:
        return self.path / f"{name.replace(' ', '-')}.pid"


def _try_lock(descriptor: int) -> bool:
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True

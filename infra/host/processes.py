"""Processes named by pid and start time, so that a pid reused by someone else is never
signalled: the supervisor's pid files, its watchdog and a later run's clean-up use these.

Linux only (`/proc`); elsewhere nothing can be recognised and nothing is signalled.
"""

import contextlib
import logging
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)
POLL_S = 0.05


@dataclass(frozen=True)
class Recorded:
    pid: int
    started: int  # clock ticks after boot (/proc/PID/stat field 22)

    @classmethod
    def of(cls, pid: int) -> "Recorded | None":
        started = start_time(pid)
        return None if started is None else cls(pid, started)

    @classmethod
    def parse(cls, text: str) -> "Recorded | None":
        try:
            pid, started = (int(word) for word in text.split())
        except ValueError:
            return None
        return cls(pid, started)

    def __str__(self) -> str:
        return f"{self.pid} {self.started}"

    def alive(self) -> bool:
        """Still running (not a zombie) and still the same process."""
        return start_time(self.pid) == self.started


def start_time(pid: int) -> int | None:
    """When a live process started, or None if there is none (or only its zombie)."""
    try:
        stat = (Path("/proc") / str(pid) / "stat").read_text()
    except (OSError, ValueError):
        return None
    fields = stat.rpartition(")")[2].split()  # the name, in parentheses, may hold spaces
    return None if fields[0] in ("Z", "X") else int(fields[19])


def signal_if_alive(process: Recorded, signum: int) -> None:
    if process.alive():
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signum)


def wait_gone(processes: list[Recorded], timeout: float) -> list[Recorded]:
    """Wait until none is alive or the timeout passes; those still alive."""
    deadline = time.monotonic() + timeout
    alive = [p for p in processes if p.alive()]
    while alive and time.monotonic() < deadline:
        time.sleep(POLL_S)
        alive = [p for p in alive if p.alive()]
    return alive


def terminate(processes: list[Recorded], grace: float) -> None:
    """SIGTERM each, then SIGKILL whatever is still alive after `grace` seconds."""
    for process in processes:
        signal_if_alive(process, signal.SIGTERM)
    for process in wait_gone(processes, grace):
        signal_if_alive(process, signal.SIGKILL)
    wait_gone(processes, grace)


def postmaster_of(data_dir: Path) -> Recorded | None:
    """The live PostgreSQL server working in `data_dir`, from its postmaster.pid."""
    try:
        pid = int((data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None
    if not is_postmaster_of(pid, data_dir):
        return None
    return Recorded.of(pid)


def is_postmaster_of(pid: int, data_dir: Path) -> bool:
    """Whether `pid` is a postgres process working in `data_dir` (the postmaster's cwd)."""
    proc = Path("/proc") / str(pid)
    try:
        name = (proc / "comm").read_text().strip()
        return name == "postgres" and Path(os.readlink(proc / "cwd")) == data_dir.resolve()
    except OSError:
        return False


def stop_postmaster(data_dir: Path, timeout: float) -> bool:
    """Fast shutdown (SIGINT: sessions rolled back, a clean checkpoint, no recovery at the
    next start) of the server in `data_dir`, if one runs; False if it outlived `timeout`."""
    postmaster = postmaster_of(data_dir)
    if postmaster is None:
        return True
    log.info("stopping PostgreSQL in %s (fast shutdown)", data_dir)
    signal_if_alive(postmaster, signal.SIGINT)
    return not wait_gone([postmaster], timeout)

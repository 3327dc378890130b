"""Idle cost of a process tree, from /proc: how many processes, CPU and proportional memory."""

import os
import time
from collections.abc import Iterable
from pathlib import Path

from report import Detail

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _parents() -> dict[int, int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat_fields(int(entry.name))):
            parents[int(entry.name)] = int(fields[1])
    return parents


def tree(roots: Iterable[int]) -> set[int]:
    """The roots and every process descended from them."""
    children: dict[int, list[int]] = {}
    for pid, parent in _parents().items():
        children.setdefault(parent, []).append(pid)
    found, todo = set(), [r for r in roots if _stat_fields(r)]
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo += children.get(pid, [])
    return found


def cpu_ticks(pids: Iterable[int]) -> dict[int, int]:
    ticks = {}
    for pid in pids:
        if fields := _stat_fields(pid):
            ticks[pid] = int(fields[11]) + int(fields[12])
    return ticks


def pss_kib(pids: Iterable[int]) -> int:
    total = 0
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        total += sum(int(line.split()[1]) for line in text.splitlines() if line.startswith("Pss:"))
    return total


def postmaster_pids(state_dir: Path) -> list[int]:
    """An embedded PostgreSQL is started by pg_ctl and leaves the supervisor's tree: find it
    by its postmaster.pid."""
    pids = []
    for path in state_dir.rglob("postmaster.pid"):
        first = path.read_text().split("\n", 1)[0].strip()
        if first.isdigit():
            pids.append(int(first))
    return pids


def idle_cost(roots: list[int], seconds: float) -> Detail:
    """Processes, CPU (% of one core, averaged over `seconds`) and PSS of the roots' trees."""
    before_pids = tree(roots)
    before, began = cpu_ticks(before_pids), time.monotonic()
    time.sleep(seconds)
    after_pids = tree(roots)
    after, elapsed = cpu_ticks(after_pids), time.monotonic() - began
    used = sum(t - before.get(pid, 0) for pid, t in after.items()) / CLOCK_TICKS
    return {
        "processes": len(after_pids),
        "processes_at_start": len(before_pids),
        "cpu_pct_of_one_core": round(100 * used / elapsed, 1),
        "pss_mib": round(pss_kib(after_pids) / 1024, 1),
        "seconds": round(elapsed, 1),
    }

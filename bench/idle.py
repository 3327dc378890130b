"""The idle cost of `jalur up`: CPU and proportional memory of every process it runs.

    .venv/bin/python bench/idle.py [--settle 45] [--window 30]

Starts `jalur up` in a new state folder on a free port, waits `--settle` seconds, then
samples utime + stime of the supervisor's process tree, the embedded PostgreSQL's processes
(found through STATE_DIR/postgres/postmaster.pid: they run in another session) and the
broker, `--window` seconds apart; PSS from /proc/PID/smaps_rollup. Linux only. JALUR_*
settings in the environment are passed on (e.g. JALUR_KAFKA_FETCH_WAIT_MAX_MS).
"""

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from process_tree import CLOCK_TICKS, cpu_ticks, postmaster_pids, pss_kib, tree

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("consume tracking", "consume accounts", "consume mail", "consume custody", "cli relay",
         "cli api",
         "watchdog", "jalur up", "tansu")  # fmt: skip


def kind(pid: int) -> str:
    try:
        line = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return "?"
    found = next((k for k in KINDS if k in line), None)
    if found:
        return found
    if "postgres:" in line:
        return "postgres: " + line.split(":", 1)[1].strip()
    return "postmaster" if "bin/postgres" in line else line[:50]


def measure(state: Path, up_pid: int, window: float) -> None:
    before = cpu_ticks(tree([up_pid, *postmaster_pids(state)]))
    time.sleep(window)
    after = cpu_ticks(before)
    rows: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0])
    for pid, ticks in after.items():
        cpu = (ticks - before[pid]) / CLOCK_TICKS / window * 100
        row = rows[kind(pid)]
        row[0], row[1], row[2] = row[0] + 1, row[1] + cpu, row[2] + pss_kib([pid])
    cpu_all = sum(r[1] for r in rows.values())
    pss_all = sum(r[2] for r in rows.values()) / 1024
    print(f"{len(before)} processes, {cpu_all:.1f} % of one core over {window:.0f} s, "
          f"PSS {pss_all:.0f} MiB")  # fmt: skip
    for name, (count, cpu, pss) in sorted(rows.items(), key=lambda kv: -kv[1][1]):
        print(f"  {int(count):3d} x {name:40s} {cpu:6.2f} %  {pss / 1024:7.1f} MiB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--settle", type=float, default=45.0, help="seconds to start")
    parser.add_argument("--window", type=float, default=30.0, help="seconds sampled")
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="jalur-idle-"))
    env = {k: v for k, v in os.environ.items() if k != "JALUR_STATE_DIR"}
    env |= {"JALUR_STATE_DIR": str(state), "JALUR_API_PORT": str(random.randint(20000, 40000))}
    with (state / "up.log").open("wb") as log:
        up = subprocess.Popen([str(ROOT / ".venv/bin/jalur"), "up"], env=env, stdout=log,
                              stderr=subprocess.STDOUT)  # fmt: skip
    try:
        time.sleep(args.settle)
        measure(state, up.pid, args.window)
    finally:
        up.send_signal(signal.SIGINT)
        up.wait(60)
    return 0


if __name__ == "__main__":
    sys.exit(main())

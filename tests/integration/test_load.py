"""Many writers at once, in threads and in processes, while the relay and the consumer run
as processes of their own: every acknowledged scan reaches the read model exactly once, the
topic holds every event in order (`jalur relay verify`), and the read model equals a replay
(`jalur projections verify tracking`). The oracle is the writers' own ledgers."""

import subprocess
import sys
import time
from pathlib import Path
from uuid import UUID

import psycopg
import pytest

from infra.runtime.bootstrap import build_applications
from infra.settings import Settings
from tests.integration.crashes import Processes
from tests.integration.load_writers import run_writers
from tests.support import ROOT, book_and_scan, run_jalur, settings_env, wait_until

SHIPMENTS = 200
THREAD_WRITERS = 8
PROCESS_WRITERS = 2
THREADS_PER_PROCESS = 4  # 8 + 2 x 4 = 16 writers
SCANS_PER_WRITER = 1_300  # 20,800 scans, plus 400 booking events


def writer_process(
    settings: Settings, awbs_file: Path, ledger: Path, seed: str
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.integration.load_writers",
            str(awbs_file),
            str(ledger),
            str(THREADS_PER_PROCESS),
            str(SCANS_PER_WRITER),
            seed,
        ],
        env=settings_env(settings),
        cwd=ROOT,
    )


def scans_in_read_model(database_url: str) -> list[UUID]:
    with psycopg.connect(database_url) as conn:
        return [row[0] for row in conn.execute("SELECT scan_id FROM tracking_scans").fetchall()]


@pytest.mark.slow
def test_sixteen_writers_in_threads_and_processes_lose_and_duplicate_nothing(
    settings: Settings, database_url: str, tmp_path: Path
) -> None:
    apps = build_applications(settings)
    awbs = book_and_scan(apps.shipments, SHIPMENTS)
    awbs_file = tmp_path / "awbs.txt"
    awbs_file.write_text("\n".join(awbs))
    processes = Processes(
        settings, tmp_path, {"relay": ("relay",), "consumer": ("consume", "tracking")}
    )
    try:
        started = time.monotonic()
        ledgers = [tmp_path / f"ledger-{n}.txt" for n in range(PROCESS_WRITERS)]
        writers = [
            writer_process(settings, awbs_file, ledger, f"p{n}") for n, ledger in enumerate(ledgers)
        ]
        acknowledged = run_writers(settings, awbs, THREAD_WRITERS, SCANS_PER_WRITER, "threads")
        assert [w.wait(timeout=600) for w in writers] == [0] * PROCESS_WRITERS
        written_in = time.monotonic() - started
        for ledger in ledgers:
            acknowledged += [UUID(line) for line in ledger.read_text().split()]
        stored = apps.shipments.recorder.max_notification_id()
        caught_up = wait_until(
            lambda: len(scans_in_read_model(database_url)) >= len(acknowledged), timeout=300
        )
        projected_in = time.monotonic() - started
    finally:
        processes.stop()

    writers_total = THREAD_WRITERS + PROCESS_WRITERS * THREADS_PER_PROCESS
    print(
        f"\n{writers_total} writers stored {len(acknowledged)} scans (ids to {stored}) in "
        f"{written_in:.1f} s; all projected after {projected_in:.1f} s"
    )
    assert caught_up
    assert len(acknowledged) == writers_total * SCANS_PER_WRITER
    seen = scans_in_read_model(database_url)
    assert len(seen) == len(acknowledged), "a scan was applied twice, or one not acknowledged"
    assert set(seen) == set(acknowledged)
    relay_check = run_jalur(settings, "relay", "verify")
    assert relay_check.returncode == 0, relay_check.stdout + relay_check.stderr
    events = len(acknowledged) + 2 * SHIPMENTS  # each booking is two events
    assert f"shipments: {events} stored, {stored} acknowledged" in relay_check.stdout
    replay_check = run_jalur(settings, "projections", "verify", "tracking")
    assert replay_check.returncode == 0, replay_check.stdout + replay_check.stderr

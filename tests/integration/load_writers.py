"""Writers for the load test: threads that record scans, each with its own application
(its own connections, as separate API workers have), each keeping a ledger of the scan ids
the event store acknowledged. Run as a module, it is one more writer process:

    python -m tests.integration.load_writers AWBS_FILE LEDGER_FILE THREADS SCANS SEED
"""

import random
import sys
from pathlib import Path
from uuid import UUID

from commands.container import Applications
from commands.scan_writer import ScanOutcome
from commands.shipments import Shipments
from domain.errors import Conflict
from domain.shipments import Scan
from infra.postgres.connections import eventsourcing_env
from infra.runtime.bootstrap import build_applications
from infra.settings import Settings
from tests.support import LATER, Threads, transit_scan

BATCH = 10  # every other write is a batch of this many scans, the rest single scans


def write_scans(
    settings: Settings, apps: Applications, awbs: list[str], scans: int, seed: str
) -> list[UUID]:
    """Record `scans` scans on random shipments; return the acknowledged scan ids."""
    env = {
        **eventsourcing_env(settings.require_database_url(), Shipments.name),
        "CREATE_TABLE": "n",  # made once by build_applications, under the migration lock
        "POSTGRES_POOL_SIZE": "1",  # one writer needs one connection; 16 of them, 16
        "POSTGRES_MAX_OVERFLOW": "0",
    }
    shipments = Shipments(env=env, sealer=apps.keyring)
    chance = random.Random(seed)
    acknowledged: list[UUID] = []
    try:
        while len(acknowledged) < scans:
            size = min(BATCH if chance.random() < 0.5 else 1, scans - len(acknowledged))
            batch = [
                (chance.choice(awbs), transit_scan(chance.randrange(1000))) for _ in range(size)
            ]
            acknowledged += [o.scan_id for o in _record(shipments, batch) if o.recorded]
    finally:
        shipments.close()
    return acknowledged


def _record(shipments: Shipments, batch: list[tuple[str, Scan]]) -> list[ScanOutcome]:
    """As a device does: a 409 for contention (nothing was stored) is sent again unchanged."""
    while True:
        try:
            if len(batch) == 1:
                return [shipments.record_scan(*batch[0], LATER)[0]]
            return shipments.record_scans(batch, LATER)[0]
        except Conflict as refused:
            if refused.code != "contention":
                raise


def run_writers(
    settings: Settings, awbs: list[str], threads: int, scans: int, seed: str
) -> list[UUID]:
    """`threads` writers at once; every one must finish, and any failure fails the caller."""
    apps = build_applications(settings)
    pool = Threads()
    results: list[list[UUID]] = []
    for n in range(threads):
        pool.start(
            lambda n=n: results.append(write_scans(settings, apps, awbs, scans, f"{seed}-{n}"))
        )
    try:
        pool.join(timeout=600)
    finally:
        apps.close()
    assert len(results) == threads
    return [scan_id for ledger in results for scan_id in ledger]


def main() -> None:
    awbs_file, ledger_file, threads, scans, seed = sys.argv[1:]
    awbs = Path(awbs_file).read_text().split()
    ledger = run_writers(Settings(), awbs, int(threads), int(scans), seed)
    Path(ledger_file).write_text("\n".join(str(scan_id) for scan_id in ledger))


if __name__ == "__main__":
    main()

"""The relay alone, from a cold start: a stored backlog, a new Relay, relay_once until idle.

    .venv/bin/python bench/relay.py [--scans N] [--runs R]

Each run on a fresh database (JALUR_BENCH_DATABASE_URL, else embedded) and its own topics
(JALUR_BENCH_KAFKA_BOOTSTRAP, else an embedded broker). The wall figure includes the
producer's start (librdkafka asks the broker for an idempotent id after 0.5 s); the CPU
figure (this process, librdkafka's threads included) is the one a busy machine skews least.
"""

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from harness import bench_settings, fresh_database, kafka_bootstrap, postgres_admin_url
from workload import book_shipments, store_scans

from infra.messaging.kafka import ensure_topics
from infra.messaging.relay import Relay
from infra.runtime.bootstrap import build_applications


def one_run(admin_url: str, bootstrap: str, scans: int) -> tuple[float, float]:
    """(events/s wall, CPU microseconds per event) for one cold start."""
    with fresh_database(admin_url) as url:
        settings = bench_settings(url, bootstrap, 8)
        shipments = build_applications(settings).shipments
        try:
            store_scans(shipments, book_shipments(shipments, 200), scans)
            stored = shipments.recorder.max_notification_id() or 0
            relay = Relay(shipments, settings)
            ensure_topics(settings, [relay.topic])
            with psycopg.connect(url, autocommit=True) as conn:
                relay.conn = conn
                cpu, began = time.process_time(), time.perf_counter()
                while relay.relay_once():
                    pass
                seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
                relay._close_producer(flush=True)
        finally:
            shipments.close()
    if relay.published != stored:
        raise RuntimeError(f"published {relay.published} of {stored}")
    return stored / seconds, cpu / stored * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scans", type=int, default=20_000, help="scans stored before a run")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rates, cpus = [], []
    with (
        tempfile.TemporaryDirectory(prefix="jalur-bench-") as tmp,
        postgres_admin_url(Path(tmp)) as admin_url,
        kafka_bootstrap(Path(tmp)) as bootstrap,
    ):
        for _ in range(args.runs):
            rate, cpu = one_run(admin_url, bootstrap, args.scans)
            rates.append(rate)
            cpus.append(cpu)
            print(f"relay: {rate:,.0f} events/s, {cpu:.1f} us CPU per event", flush=True)
    print(
        f"median of {args.runs}: {statistics.median(rates):,.0f} events/s, "
        f"{statistics.median(cpus):.1f} us CPU per event"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

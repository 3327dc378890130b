"""Jalur backbone benchmark: how fast scans get in, and how soon they are visible.

    .venv/bin/python bench/backbone.py [--scans N] [--clients C] [--out PATH]

One run measures, each figure on a fresh database (CREATE DATABASE jalur_bench_<random>,
dropped afterwards):

1. the real HTTPS API (`jalur api` in a child process): single scans from C clients
   (accepted scans/s, latency p50/p99) and the batch endpoint with 100 scans per request;
2. the Shipments application directly: record_scan one per transaction, record_scans by 100;
3. the raw PostgreSQL ceiling for rows shaped like shipments_events: single-row commits,
   1,000-row executemany transactions, binary COPY;
4. the outbox relay's throughput to Kafka (relay_once until idle);
5. the delay from a command returning to its scan being visible in the tracking read model.

PostgreSQL: JALUR_BENCH_DATABASE_URL (a local server), else an embedded one in a temp dir.
Kafka: JALUR_BENCH_KAFKA_BOOTSTRAP (a local broker), else an embedded broker.
Prints a table and writes every figure, the parameters and machine facts as JSON.
"""

import argparse
import logging
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from api_load import ApiRun, api_figure
from harness import (
    bench_settings,
    fresh_database,
    interrupt_once,
    kafka_bootstrap,
    postgres_admin_url,
)
from report import Figure, machine_facts, print_table, write_json
from rich.console import Console
from store_load import (
    raw_copy,
    raw_executemany,
    raw_single,
    store_batches,
    store_single,
)
from stream_load import end_to_end, relay_throughput
from workload import raw_rows

from infra.runtime.tls import ensure_certificate
from infra.settings import Settings

RESULTS = Path(__file__).resolve().parent / "results"
Measure = Callable[[Settings], Figure | list[Figure]]
console = Console() if sys.stdout.isatty() else Console(width=180)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scans", type=int, default=5000, help="scans per throughput figure")
    parser.add_argument("--clients", type=int, default=8, help="concurrent API clients")
    parser.add_argument("--out", type=Path, help="JSON output (default bench/results/...)")
    parser.add_argument("--bookings", type=int, default=200, help="shipments booked first")
    parser.add_argument("--raw-rows", type=int, help="rows for the bulk raw figures (4 x scans)")
    parser.add_argument("--partitions", type=int, default=8, help="Kafka partitions per topic")
    parser.add_argument("--e2e-rate", type=float, default=50.0, help="end-to-end scans per s")
    parser.add_argument("--e2e-seconds", type=float, default=10.0, help="end-to-end duration")
    args = parser.parse_args(argv)
    _check(parser, args)
    return args


def _check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if not 1 <= args.scans <= 1_000_000 or not 1 <= args.clients <= 256:
        parser.error("--scans must be 1..1,000,000 and --clients 1..256")
    if not 100 <= args.bookings <= 100_000 or args.bookings < args.clients:
        parser.error("--bookings must be 100..100,000 and at least --clients")
    if not 0 < args.e2e_rate <= 1000 or not 0 < args.e2e_seconds <= 120:
        parser.error("--e2e-rate must be in (0, 1000] and --e2e-seconds in (0, 120]")
    args.raw_rows = args.raw_rows or 4 * args.scans
    if not 1 <= args.raw_rows <= 10_000_000:
        parser.error("--raw-rows must be 1..10,000,000")


def measurements(args: argparse.Namespace, cert: Path, key: Path, tmp: Path) -> list[Measure]:
    api = ApiRun(cert, key, tmp, args.bookings, args.scans, args.clients)
    single_rows = raw_rows(args.scans)
    bulk_rows = raw_rows(args.raw_rows)
    return [
        partial(api_figure, run=api, batches=False),
        partial(api_figure, run=api, batches=True),
        partial(store_single, bookings=args.bookings, total=args.scans),
        partial(store_batches, bookings=args.bookings, total=args.scans),
        partial(raw_single, rows=single_rows),
        partial(raw_executemany, rows=bulk_rows),
        partial(raw_copy, rows=bulk_rows),
        partial(relay_throughput, bookings=args.bookings, scans=args.scans),
        partial(end_to_end, bookings=args.bookings, rate=args.e2e_rate, seconds=args.e2e_seconds),
    ]


def measure(step: Measure, admin_url: str, bootstrap: str, partitions: int) -> list[Figure]:
    """One figure (or a few) on its own fresh database; a failure becomes a FAILED row."""
    began = time.perf_counter()
    try:
        with fresh_database(admin_url) as url:
            result = step(bench_settings(url, bootstrap, partitions))
    except Exception as error:
        traceback.print_exc()
        name = getattr(step, "func", step).__name__
        return [Figure("error", name, None, "", {"error": f"{type(error).__name__}: {error}"})]
    figures = result if isinstance(result, list) else [result]
    for figure in figures:
        console.log(f"{figure.section}: {figure.name}: {figure.value} {figure.unit}")
    console.log(f"  ({time.perf_counter() - began:.1f} s with its database)")
    return figures


def run(args: argparse.Namespace) -> tuple[list[Figure], dict[str, Any]]:
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="jalur-bench-")))
        admin_url = stack.enter_context(postgres_admin_url(tmp))
        bootstrap = stack.enter_context(kafka_bootstrap(tmp))
        cert, key = ensure_certificate(tmp)
        machine = machine_facts(admin_url)
        figures: list[Figure] = []
        for step in measurements(args, cert, key, tmp):
            figures += measure(step, admin_url, bootstrap, args.partitions)
    return figures, machine


def parameters(args: argparse.Namespace, seconds: float) -> dict[str, Any]:
    defaults = Settings()
    return {
        **{k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "postgres": "JALUR_BENCH_DATABASE_URL" if _env("DATABASE_URL") else "embedded",
        "kafka": "JALUR_BENCH_KAFKA_BOOTSTRAP" if _env("KAFKA_BOOTSTRAP") else "embedded",
        "kafka_session_timeout_ms": 6000,
        "kafka_fetch_wait_max_ms": 10,
        "relay_batch_size": defaults.relay_batch_size,
        "projection_batch_size": defaults.projection_batch_size,
        "api_db_pool_size": defaults.db_pool_size,
        "wall_seconds": round(seconds, 1),
        "loadavg_at_end": os.getloadavg(),  # other work on the machine skews every figure
    }


def _env(name: str) -> bool:
    return bool(os.environ.get(f"JALUR_BENCH_{name}"))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    logging.getLogger("bench").setLevel(logging.INFO)
    interrupt_once()
    began = time.perf_counter()
    try:
        figures, machine = run(args)
    except KeyboardInterrupt:
        console.print("[red]interrupted[/red]: child processes stopped, databases dropped")
        return 130
    out = args.out or RESULTS / f"backbone-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    print_table(figures, console)
    write_json(out, parameters(args, time.perf_counter() - began), machine, figures)
    console.print(f"wrote {out}")
    return 1 if any(figure.value is None for figure in figures) else 0


if __name__ == "__main__":
    sys.exit(main())

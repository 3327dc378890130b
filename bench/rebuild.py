"""Jalur rebuild benchmark: how fast the tracking projection applies a stored backlog.

    .venv/bin/python bench/rebuild.py [--events N] [--bookings B] [--out PATH]

On a fresh database: B shipments booked and N - B scans recorded through the Shipments
application (in batches of 1,000, spread over the shipments), the relay publishes them
all, the live tracking runner catches up (figure: live catch-up events/s), then
`consumers.rebuild.rebuild` builds a new generation from offset 0 and switches (figure:
rebuild events/s, the target of issue 13 being 20,000/s on at least 200,000 events).

PostgreSQL: JALUR_BENCH_DATABASE_URL, else an embedded one. Kafka:
JALUR_BENCH_KAFKA_BOOTSTRAP, else an embedded broker. Prints a table, writes JSON.
"""

import argparse
import logging
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness import (
    bench_settings,
    fresh_database,
    interrupt_once,
    kafka_bootstrap,
    postgres_admin_url,
)
from report import Detail, Figure, machine_facts, per_second, print_table, write_json
from rich.console import Console
from workload import book_shipments, scan

from commands.shipments import Shipments
from consumers.rebuild import rebuild
from consumers.registry import projection
from consumers.runner import ProjectionRunner
from infra.messaging.kafka import ensure_topics
from infra.messaging.relay import Relay
from infra.runtime.bootstrap import build_applications
from infra.settings import Settings

RESULTS = Path(__file__).resolve().parent / "results"
SECTION = "projections"
WRITE_BATCH = 1000
CATCH_UP_TIMEOUT_S = 1800.0
console = Console() if sys.stdout.isatty() else Console(width=180)
TRACKING = projection("tracking")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000, help="events in the backlog")
    parser.add_argument("--bookings", type=int, default=10_000, help="shipments among them")
    parser.add_argument("--partitions", type=int, default=8, help="Kafka partitions per topic")
    parser.add_argument("--out", type=Path, help="JSON output (default bench/results/...)")
    args = parser.parse_args(argv)
    if not 1_000 <= args.bookings < args.events <= 5_000_000:
        parser.error("need 1,000 <= --bookings < --events <= 5,000,000")
    return args


def write_backlog(shipments: Shipments, bookings: int, events: int) -> int:
    """Book, then scan round-robin over the shipments; the newest notification id."""
    awbs = book_shipments(shipments, bookings)
    scans = [(awbs[i % len(awbs)], scan(i)) for i in range(events - bookings)]
    for start in range(0, len(scans), WRITE_BATCH):
        shipments.record_scans(scans[start : start + WRITE_BATCH], datetime.now(UTC))
    return shipments.recorder.max_notification_id() or 0


def relay_all(shipments: Shipments, settings: Settings, stored: int) -> int:
    """Run the relay until it has published (broker-acknowledged) every stored event."""
    relay = Relay(shipments, settings)
    ensure_topics(settings, [relay.topic])
    stop = threading.Event()
    thread = threading.Thread(target=relay.run, args=(stop,), daemon=True)
    thread.start()
    deadline = time.monotonic() + CATCH_UP_TIMEOUT_S
    while relay.published < stored and time.monotonic() < deadline and thread.is_alive():
        time.sleep(0.1)
    stop.set()
    thread.join(60)
    return relay.published


def live_catch_up(settings: Settings, events: int) -> tuple[int, float]:
    """The live runner from nothing to every event applied: (applied, seconds)."""
    runner = ProjectionRunner(TRACKING, settings, follow_switches=False)
    try:
        while runner.step() == 0:  # the group join: not the projection's speed
            pass
        began = time.perf_counter()
        while runner.applied < events and time.perf_counter() - began < CATCH_UP_TIMEOUT_S:
            runner.step()
        return runner.applied, time.perf_counter() - began
    finally:
        runner.close()


def timed_rebuild(settings: Settings) -> tuple[float, float]:
    """(seconds, seconds of them until the first event was applied: the group join)."""
    first: list[float] = []
    began = time.perf_counter()

    def progress(done: int, _total: int) -> None:
        if done and not first:
            first.append(time.perf_counter() - began)

    rebuild(TRACKING, settings, threading.Event(), progress)
    seconds = time.perf_counter() - began
    return seconds, first[0] if first else 0.0


def measure(settings: Settings, bookings: int, events: int) -> list[Figure]:
    shipments = build_applications(settings).shipments
    try:
        began = time.perf_counter()
        stored = write_backlog(shipments, bookings, events)
        written_s = time.perf_counter() - began
        published = relay_all(shipments, settings, stored)
    finally:
        shipments.close()
    console.log(f"backlog: {published} events published ({written_s:.1f} s to write)")
    applied, live_s = live_catch_up(settings, published)
    console.log(f"live runner: {applied} events in {live_s:.1f} s")
    rebuild_s, join_s = timed_rebuild(settings)
    rebuilt = published  # the new generation applies every event of the topic
    detail: Detail = {
        "events": published,
        "batch_size": settings.projection_batch_size,
        "rebuild_batch_size": settings.rebuild_batch_size,
        "partitions": settings.kafka_partitions,
    }
    return [
        Figure(
            SECTION,
            "live runner catch-up",
            per_second(applied, live_s),
            "events/s",
            {**detail, "applied": applied, "seconds": round(live_s, 2)},
        ),
        Figure(
            SECTION,
            "rebuild tracking (after the group join)",
            per_second(rebuilt, rebuild_s - join_s),
            "events/s",
            {**detail, "seconds": round(rebuild_s, 2), "join_s": round(join_s, 2)},
        ),
        Figure(
            SECTION,
            "rebuild tracking (whole command)",
            per_second(rebuilt, rebuild_s),
            "events/s",
            {**detail, "seconds": round(rebuild_s, 2)},
        ),
    ]


def run(args: argparse.Namespace) -> tuple[list[Figure], dict[str, Any]]:
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="jalur-bench-")))
        admin_url = stack.enter_context(postgres_admin_url(tmp))
        bootstrap = stack.enter_context(kafka_bootstrap(tmp))
        machine = machine_facts(admin_url)
        with fresh_database(admin_url) as url:
            settings = bench_settings(url, bootstrap, args.partitions)
            figures = measure(settings, args.bookings, args.events)
    return figures, machine


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    interrupt_once()
    began = time.perf_counter()
    try:
        figures, machine = run(args)
    except KeyboardInterrupt:
        console.print("[red]interrupted[/red]: databases dropped")
        return 130
    out = args.out or RESULTS / f"rebuild-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    print_table(figures, console, "rebuild")
    parameters = {
        "events": args.events,
        "bookings": args.bookings,
        "partitions": args.partitions,
        "wall_seconds": round(time.perf_counter() - began, 1),
    }
    write_json(out, parameters, machine, figures, "rebuild")
    console.print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

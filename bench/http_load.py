"""Jalur over HTTPS beside its anchors, in one run on one machine.

    .venv/bin/python bench/http_load.py [--seconds D] [--connections C] [--profile LABEL]

1. idle cost of a fresh, zero-configuration `jalur up` (embedded PostgreSQL and broker):
   processes in its tree, CPU % of one core and proportional memory (PSS) over --idle-seconds;
2. raw PostgreSQL in this run: single-row commits and 1,000-row executemany;
3. a full `jalur up` on a fresh database of the bench server: books --bookings shipments,
   makes a device key with `jalur keys create`, then wrk for D seconds each on single scans
   (fresh scan ids), GET /v1/track/{awb} and POST /v1/scans (100 scans per request); after
   each write load, the seconds until tracking shows every stored scan; then scans at a
   sustained --e2e-rate, timed from the answer to visible in tracking;
4. the anchors (bench/anchors/), each on a fresh database, with the same wrk loads.

Prints a table (path | Jalur | anchor | ratio) and writes JSON to bench/results/.
"""

import argparse
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import psycopg
from catch_up import seconds_to_catch_up
from e2e_http import answered_to_visible
from harness import (
    bench_settings,
    child_env,
    cpu_seconds,
    fresh_database,
    interrupt_once,
    postgres_admin_url,
    trusting,
)
from process_tree import idle_cost, postmaster_pids, tree
from profiles import recording, summarise
from report import Detail, Figure, machine_facts, write_json
from results_table import print_results
from rich.console import Console
from servers import Server, anchor, jalur_up
from store_load import raw_executemany, raw_single
from workload import HUB, book_shipments, raw_rows
from wrk_run import WrkResult, run_wrk

from infra.runtime.bootstrap import build_applications
from infra.runtime.tls import ensure_certificate
from infra.settings import Settings

BENCH = Path(__file__).resolve().parent
console = Console() if sys.stdout.isatty() else Console(width=160)
log = logging.getLogger("bench")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20, help="wrk duration per load")
    parser.add_argument("--connections", type=int, default=50, help="wrk connections")
    parser.add_argument("--batch-connections", type=int, default=8, help="for POST /v1/scans")
    parser.add_argument("--bookings", type=int, default=2000, help="shipments booked first")
    parser.add_argument("--idle-seconds", type=float, default=30, help="idle measurement")
    parser.add_argument("--idle-settle", type=float, default=10, help="wait after start")
    parser.add_argument("--e2e-rate", type=float, default=1000, help="offered scans/s")
    parser.add_argument("--e2e-seconds", type=float, default=10)
    parser.add_argument("--e2e-senders", type=int, default=16, help="sender threads")
    parser.add_argument("--raw-rows", type=int, default=20_000, help="raw executemany rows")
    parser.add_argument("--partitions", type=int, default=8, help="Kafka partitions")
    parser.add_argument("--profile", metavar="LABEL", help="py-spy the API: profiles/LABEL-*")
    parser.add_argument("--skip-idle", action="store_true")
    parser.add_argument("--out", type=Path, help="JSON output (default bench/results/...)")
    args = parser.parse_args(argv)
    if args.bookings < 100 * args.batch_connections * 2:
        parser.error("--bookings must be at least 200 x --batch-connections")
    return args


class Run:
    """One invocation: where things live, and the figures gathered so far."""

    def __init__(self, args: argparse.Namespace, tmp: Path, admin_url: str) -> None:
        self.args, self.tmp, self.admin_url = args, tmp, admin_url
        self.cert, self.key = ensure_certificate(tmp)
        self.figures: list[Figure] = []

    def add(self, figure: Figure) -> None:
        console.log(f"{figure.section}: {figure.name}: {figure.value} {figure.unit}")
        self.figures.append(figure)

    def wrk(self, server: Server, mode: str, awbs: list[str], key: str = "") -> WrkResult:
        connections = self.args.batch_connections if mode == "batch" else self.args.connections
        return run_wrk(server.url, mode, awbs, self.args.seconds, connections, key)

    def wrk_figure(
        self,
        section: str,
        name: str,
        pid: int,
        load: Callable[[], WrkResult],
        per_request: int = 1,
    ) -> Figure:
        """wrk's figure, with how busy the server process `pid` was and the machine's load."""
        cpu = cpu_seconds(pid)
        result = load()
        detail = result.detail()
        detail["server_cpu_util"] = round((cpu_seconds(pid) - cpu) / result.seconds, 2)
        detail["loadavg_1m"] = round(os.getloadavg()[0], 1)
        rate = round(result.ok_per_s * per_request, 1)
        return Figure(section, name, rate, "scans/s" if "scan" in name else "requests/s", detail)

    def log_path(self, name: str) -> Path:
        return self.tmp / f"{name}.log"


def measure_idle(run: Run) -> None:
    settings = Settings(tls_cert=run.cert, tls_key=run.key)
    state = run.tmp / "idle-state"
    with jalur_up(settings, state, run.log_path("idle-up")) as up:
        time.sleep(run.args.idle_settle)
        detail = idle_cost([up.pid, *postmaster_pids(state)], run.args.idle_seconds)
    name = "fresh `jalur up`, embedded PostgreSQL and broker, no traffic"
    run.add(Figure("idle", name, float(detail["cpu_pct_of_one_core"]), "% of one core", detail))


def measure_raw(run: Run) -> None:
    with fresh_database(run.admin_url) as url:
        settings = Settings(database_url=url)
        run.add(raw_single(settings, raw_rows(run.args.raw_rows // 4)))
    with fresh_database(run.admin_url) as url:
        run.add(raw_executemany(Settings(database_url=url), raw_rows(run.args.raw_rows)))


def jalur_settings(run: Run, database_url: str) -> Settings:
    """A fresh database on the bench server; the broker is left to `jalur up` to embed."""
    settings = bench_settings(database_url, "", run.args.partitions)
    return settings.model_copy(
        update={"kafka_bootstrap": None, "tls_cert": run.cert, "tls_key": run.key}
    )


def create_device_key(settings: Settings, state_dir: Path) -> str:
    """`jalur keys create --hub CGK10000`, run as an operator would; the printed secret."""
    env = {**child_env(settings), "JALUR_STATE_DIR": str(state_dir)}
    argv = [sys.executable, "-m", "infra.runtime.cli", "keys", "create", "--hub", HUB]
    out = subprocess.run(argv, env=env, capture_output=True, text=True, check=True).stdout
    return next(line.split()[1] for line in out.splitlines() if line.startswith("secret:"))


def book(settings: Settings, count: int) -> list[str]:
    shipments = build_applications(settings).shipments
    try:
        return book_shipments(shipments, count)
    finally:
        shipments.close()


def api_pid(up: Server) -> int:
    """The `jalur api` child of this supervisor (other systems may run on the machine)."""
    for pid in sorted(tree([up.pid])):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"infra.runtime.cli" in cmdline and cmdline[-2:] == [b"api", b""]:
            return pid
    raise RuntimeError("no `jalur api` process under the supervisor")


@contextmanager
def profiled(run: Run, pid: int, path: str) -> Iterator[None]:
    """py-spy on `pid` during the block when --profile is given; a summary in profiles/."""
    label = run.args.profile
    if not label:
        yield
        return
    seconds = min(15.0, run.args.seconds - 3)
    raw_dir = run.tmp / f"profile-{path}"
    raw_dir.mkdir()
    with recording(pid, seconds, raw_dir) as raws:
        yield
    title = f"{label}: the `jalur api` process under the {path} load (wrk, {run.args.connections}"
    title += f" connections), py-spy {seconds:.0f} s"
    out = BENCH / "profiles" / f"{label}-{path}.txt"
    out.parent.mkdir(exist_ok=True)
    out.write_text(summarise(raws, title, seconds))
    console.log(f"wrote {out}")


def measure_jalur(run: Run) -> tuple[list[str], dict[str, str]]:
    """Every Jalur load on one `jalur up`; the AWBs and Jalur's tracking answer for each."""
    with fresh_database(run.admin_url) as url:
        settings = jalur_settings(run, url)
        state = run.tmp / "load-state"
        with jalur_up(settings, state, run.log_path("load-up")) as up:
            began = time.perf_counter()
            awbs = book(settings, run.args.bookings)
            key = create_device_key(settings, state)
            log.info("booked %d shipments in %.1f s", len(awbs), time.perf_counter() - began)
            time.sleep(1.0)  # wrk's scan times are whole seconds: never before a booking
            documents = jalur_reads_and_writes(run, settings, up, awbs, key)
            run.add(jalur_end_to_end(run, settings, up, awbs, key))
            run.add(lag_figure(settings, "after the sustained scans"))
    return awbs, documents


def jalur_reads_and_writes(
    run: Run, settings: Settings, up: Server, awbs: list[str], key: str
) -> dict[str, str]:
    """wrk on single scans, tracking and batches, with the lag after each write load."""
    pid = api_pid(up)
    with profiled(run, pid, "scan"):
        scans = partial(run.wrk, up, "scan", awbs, key)
        run.add(run.wrk_figure("Jalur", "single scans", pid, scans))
    run.add(lag_figure(settings, "after single scans"))
    with profiled(run, pid, "track"):
        track = partial(run.wrk, up, "track", awbs)
        run.add(run.wrk_figure("Jalur", "GET /v1/track/{awb}", pid, track))
    documents = tracking_documents(up, awbs)
    batches = partial(run.wrk, up, "batch", awbs, key)
    run.add(run.wrk_figure("Jalur", "batch scans, 100 per request", pid, batches, 100))
    run.add(lag_figure(settings, "after batches"))
    return documents


def jalur_end_to_end(run: Run, settings: Settings, up: Server, awbs: list[str], key: str) -> Figure:
    args = run.args
    try:
        return answered_to_visible(
            settings, up.url, up.cert, key, awbs, args.e2e_rate, args.e2e_seconds, args.e2e_senders
        )
    except (psycopg.Error, httpx.HTTPError) as error:
        detail: Detail = {"error": f"{type(error).__name__}: {error}"}
        return Figure(
            "end to end (HTTPS)", "scan answered -> visible in tracking", None, "ms", detail
        )


def lag_figure(settings: Settings, when: str) -> Figure:
    name = f"relay + tracking caught up, {when}"
    try:
        seconds, missing = seconds_to_catch_up(settings)
    except psycopg.Error as error:  # e.g. a shared server out of connections: go on
        return Figure("lag", name, None, "s", {"error": f"{type(error).__name__}: {error}"})
    detail: Detail = {"still_missing": missing} if missing else {}
    return Figure("lag", name, seconds, "s", detail)


def tracking_documents(up: Server, awbs: list[str]) -> dict[str, str]:
    """Jalur's own answers, for the tracking anchor to serve."""
    with httpx.Client(base_url=up.url, verify=trusting(up.cert), timeout=30) as client:
        return {awb: client.get(f"/v1/track/{awb}").text for awb in awbs}


def measure_anchors(run: Run, awbs: list[str], documents: dict[str, str]) -> None:
    with (
        fresh_database(run.admin_url) as url,
        anchor("scan_anchor", url, run.cert, run.key, run.log_path("scan-anchor")) as server,
    ):
        scans = partial(run.wrk, server, "scan", awbs)
        run.add(run.wrk_figure("anchor", "single scans", server.pid, scans))
    with (
        fresh_database(run.admin_url) as url,
        anchor("track_anchor", url, run.cert, run.key, run.log_path("track-anchor")) as server,
    ):
        with psycopg.connect(url, autocommit=True) as conn, conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO anchor_tracking (awb, document) VALUES (%s, %s)",
                list(documents.items()),
            )
        track = partial(run.wrk, server, "track", awbs)
        run.add(run.wrk_figure("anchor", "GET /v1/track/{awb}", server.pid, track))


def run_all(args: argparse.Namespace) -> tuple[list[Figure], dict[str, Any]]:
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="jalur-http-")))
        admin_url = stack.enter_context(postgres_admin_url(tmp))
        run = Run(args, tmp, admin_url)
        machine = machine_facts(admin_url)
        if not args.skip_idle:
            measure_idle(run)
        measure_raw(run)
        awbs, documents = measure_jalur(run)
        measure_anchors(run, awbs, documents)
    return run.figures, machine


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    log.setLevel(logging.INFO)
    interrupt_once()
    began = time.perf_counter()
    try:
        figures, machine = run_all(args)
    except KeyboardInterrupt:
        console.print("[red]interrupted[/red]: child processes stopped, databases dropped")
        return 130
    out = args.out or BENCH / "results" / f"http-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    print_results(figures, console)
    parameters = {
        **{k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "wall_seconds": round(time.perf_counter() - began, 1),
        "loadavg_at_end": os.getloadavg(),
    }
    write_json(out, parameters, machine, figures, benchmark="http")
    console.print(f"wrote {out}")
    return 1 if any(figure.value is None for figure in figures) else 0


if __name__ == "__main__":
    sys.exit(main())

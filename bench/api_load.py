"""Load on the real HTTPS API: C client threads, each with its own keep-alive connection
and its own shipments (so clients never contend for one aggregate)."""

import collections
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
from harness import api_server, cpu_seconds, trusting
from report import Detail, Figure, latency_detail, per_second, process_cpu
from workload import BATCH_SIZE, HUB, book_shipments, scan_json

from infra.postgres.device_keys import create_key
from infra.runtime.bootstrap import build_applications
from infra.settings import Settings

REQUEST_TIMEOUT_S = 30.0
SECTION = "API (HTTPS)"
RUN_TIMEOUT_S = 240.0  # a run that takes longer is stopped and reported as partial


@dataclass
class ClientResult:
    accepted: int = 0  # scans the API answered 201 for
    latencies: list[float] = field(default_factory=list)
    statuses: collections.Counter[str] = field(default_factory=collections.Counter)


@dataclass
class LoadResult:
    seconds: float
    accepted: int
    requests: int
    latencies: list[float]
    statuses: dict[str, int]
    client_cpu: float  # CPU seconds this process (the load generator) used meanwhile
    complete: bool


# One request: (client, its shipments, request index) -> (accepted scans, status label).
Request = Callable[[httpx.Client, Sequence[str], int], tuple[int, str]]


def post_scan(client: httpx.Client, awbs: Sequence[str], i: int) -> tuple[int, str]:
    response = client.post(f"/v1/shipments/{awbs[i % len(awbs)]}/scans", json=scan_json(i))
    return int(response.status_code == 201), str(response.status_code)


def post_batch(client: httpx.Client, awbs: Sequence[str], i: int) -> tuple[int, str]:
    first = i * BATCH_SIZE
    items = [{**scan_json(j), "awb": awbs[j % len(awbs)]} for j in range(first, first + BATCH_SIZE)]
    response = client.post("/v1/scans", json={"scans": items})
    if response.status_code != 201:
        return 0, str(response.status_code)
    return len(response.json()["scans"]), "201"


def run_load(
    url: str,
    cert: Path,
    secret: str,
    awbs: Sequence[str],
    requests: int,
    clients: int,
    send: Request,
) -> LoadResult:
    """Send `requests` requests from `clients` threads; time from all-connected to all-done."""
    results = [ClientResult() for _ in range(clients)]
    start = threading.Barrier(clients + 1, timeout=60)
    stop = threading.Event()
    threads = [
        threading.Thread(
            target=_client,
            args=(url, cert, secret, awbs[n::clients], _quota(requests, clients, n), send),
            kwargs={"start": start, "stop": stop, "result": results[n]},
            daemon=True,
        )
        for n in range(clients)
    ]
    for thread in threads:
        thread.start()
    start.wait()
    began, cpu = time.perf_counter(), process_cpu()
    complete = _join(threads, began + RUN_TIMEOUT_S)
    seconds, cpu = time.perf_counter() - began, process_cpu() - cpu
    stop.set()
    return _merge(results, seconds, cpu, complete)


def _quota(requests: int, clients: int, n: int) -> int:
    return requests // clients + (1 if n < requests % clients else 0)


def _client(
    url: str,
    cert: Path,
    secret: str,
    awbs: Sequence[str],
    quota: int,
    send: Request,
    *,
    start: threading.Barrier,
    stop: threading.Event,
    result: ClientResult,
) -> None:
    headers = {"X-API-Key": secret}
    with httpx.Client(
        base_url=url, verify=trusting(cert), headers=headers, timeout=REQUEST_TIMEOUT_S
    ) as client:
        try:
            client.get("/healthz").raise_for_status()  # connect before the clock starts
        except Exception:
            start.abort()  # the run fails at once instead of waiting for this client
            raise
        start.wait()
        for i in range(quota):
            if stop.is_set():
                return
            began = time.perf_counter()
            try:
                accepted, status = send(client, awbs, i)
            except httpx.HTTPError as error:
                accepted, status = 0, type(error).__name__
            result.latencies.append(time.perf_counter() - began)
            result.accepted += accepted
            result.statuses[status] += 1


def _join(threads: Sequence[threading.Thread], deadline: float) -> bool:
    for thread in threads:
        thread.join(max(0.0, deadline - time.perf_counter()))
    return not any(thread.is_alive() for thread in threads)


def _merge(
    results: Sequence[ClientResult], seconds: float, client_cpu: float, complete: bool
) -> LoadResult:
    statuses: collections.Counter[str] = collections.Counter()
    latencies: list[float] = []
    for result in results:
        statuses.update(result.statuses)
        latencies += result.latencies
    return LoadResult(
        seconds=seconds,
        accepted=sum(r.accepted for r in results),
        requests=len(latencies),
        latencies=latencies,
        statuses=dict(statuses),
        client_cpu=client_cpu,
        complete=complete,
    )


def summary(result: LoadResult) -> Detail:
    statuses = " ".join(f"{status}:{count}" for status, count in sorted(result.statuses.items()))
    detail: Detail = {
        "accepted": result.accepted,
        "requests": result.requests,
        "seconds": round(result.seconds, 3),
        "statuses": statuses,
    }
    if not result.complete:
        detail["partial"] = f"stopped after {RUN_TIMEOUT_S:.0f} s"
    return detail


@dataclass(frozen=True)
class ApiRun:
    """What an API figure needs besides its settings."""

    cert: Path
    key: Path
    log_dir: Path
    bookings: int
    scans: int
    clients: int


def api_figure(settings: Settings, run: ApiRun, *, batches: bool) -> Figure:
    """Book through the application, start `jalur api` on the fresh database, then load it.

    Every batch holds 100 scans of 100 different shipments, so the batch figure books at
    least 100 shipments per client (each client scans only its own shipments)."""
    bookings = max(run.bookings, run.clients * BATCH_SIZE) if batches else run.bookings
    awbs, secret = _prepare(settings, bookings)
    log_path = run.log_dir / f"api-{settings.topic_prefix}.log"
    with api_server(settings, run.cert, run.key, log_path) as api:
        cpu_before = cpu_seconds(api.pid)
        if batches:
            requests = -(-run.scans // BATCH_SIZE)
            result = run_load(api.url, run.cert, secret, awbs, requests, run.clients, post_batch)
        else:
            result = run_load(api.url, run.cert, secret, awbs, run.scans, run.clients, post_scan)
        api_cpu = cpu_seconds(api.pid) - cpu_before
    detail = {**summary(result), "clients": run.clients, "shipments": bookings}
    detail |= latency_detail(result.latencies)
    detail |= _cpu_detail(api_cpu, result)
    name = "POST /v1/scans, 100 per request" if batches else "POST /v1/shipments/{awb}/scans"
    rate = per_second(result.accepted, result.seconds)
    return Figure(SECTION, name, rate, "accepted scans/s", detail)


def _prepare(settings: Settings, bookings: int) -> tuple[list[str], str]:
    """Book the shipments and create a device key: (waybill numbers, the key's secret)."""
    shipments = build_applications(settings).shipments
    try:
        awbs = book_shipments(shipments, bookings)
    finally:
        shipments.close()
    with psycopg.connect(settings.require_database_url(), autocommit=True) as conn:
        _, secret = create_key(conn, HUB, "bench")
    return awbs, secret


def _cpu_detail(api_cpu: float, result: LoadResult) -> Detail:
    """Where the 2 cores went: the API process and the load generator (this process)."""
    accepted = max(result.accepted, 1)
    return {
        "api_cpu_ms_per_scan": round(api_cpu * 1000 / accepted, 3),
        "api_cpu_util": round(api_cpu / result.seconds, 2),
        "client_cpu_util": round(result.client_cpu / result.seconds, 2),
    }

"""Command answered -> visible in tracking, over HTTPS against a running `jalur up`, at a
sustained rate: sender threads post single scans on a fixed schedule (open loop: a late
answer does not slow the schedule down, it only makes the sender late; slots still unsent
when the time is up are dropped, so the answered rate shows what the API kept up with), and
a watcher polls tracking_positions for each answer's consistency token, as read-your-writes
does."""

import threading
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
from harness import trusting
from report import Detail, Figure, latency_detail, per_second, process_cpu
from stream_load import POLL_INTERVAL_S, Watched, watching
from workload import scan_json

from infra.messaging.partitioning import parse_token
from infra.settings import Settings

SECTION = "end to end (HTTPS)"
DRAIN_TIMEOUT_S = 30.0


def answered_to_visible(
    settings: Settings,
    url: str,
    cert: Path,
    api_key: str,
    awbs: Sequence[str],
    rate: float,
    seconds: float,
    senders: int,
) -> Figure:
    """`settings` name Jalur's database and topic prefix; each sender scans its own AWBs."""
    watched, answered = Watched(), [0] * senders
    with watching(settings, watched):
        began = time.perf_counter() + 0.5  # every sender connected before the first slot
        cpu = process_cpu()
        threads = [
            threading.Thread(
                target=_send,
                args=(url, cert, api_key, awbs[n::senders], watched, answered, n),
                kwargs={"slots": _slots(began, rate, seconds, senders, n)},
                daemon=True,
            )
            for n in range(senders)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        sent_seconds = min(time.perf_counter() - began, seconds)
        cpu = process_cpu() - cpu
        _drain(watched)
    figure = _figure(watched, sum(answered), sent_seconds, rate, senders)
    figure.detail["client_cpu_util"] = round(cpu / sent_seconds, 2)  # 1.0: the senders' core
    return figure


def _slots(began: float, rate: float, seconds: float, senders: int, n: int) -> list[float]:
    total = int(rate * seconds)
    return [began + i / rate for i in range(n, total, senders)]


def _send(
    url: str,
    cert: Path,
    api_key: str,
    awbs: Sequence[str],
    watched: Watched,
    answered: list[int],
    n: int,
    *,
    slots: Sequence[float],
) -> None:
    headers = {"X-API-Key": api_key}
    with httpx.Client(base_url=url, verify=trusting(cert), headers=headers, timeout=30) as client:
        client.get("/healthz")
        for i, slot in enumerate(slots):
            if time.perf_counter() > slots[-1]:
                return  # out of time: the rest of the schedule is dropped
            time.sleep(max(0.0, slot - time.perf_counter()))
            response = client.post(f"/v1/shipments/{awbs[i % len(awbs)]}/scans", json=scan_json(i))
            returned_at = time.perf_counter()
            if response.status_code != 201:
                continue
            answered[n] += 1
            _, wanted = parse_token(response.json()["consistency_token"])
            for partition, notification_id in wanted.items():
                watched.add(partition, notification_id, returned_at)


def _drain(watched: Watched) -> None:
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while watched.waiting() and time.monotonic() < deadline:
        time.sleep(0.01)


def _figure(watched: Watched, answered: int, seconds: float, rate: float, senders: int) -> Figure:
    detail: Detail = {
        "offered_per_s": rate,
        "answered_per_s": per_second(answered, seconds),
        "answered": answered,
        "offered": int(rate * seconds),
        "seen": len(watched.delays),
        "senders": senders,
        "poll_ms": POLL_INTERVAL_S * 1000,
        **latency_detail(watched.delays),
    }
    name = f"scan answered -> visible in tracking at {rate:,.0f}/s offered"
    return Figure(SECTION, name, float(detail["p50_ms"]), "ms (p50)", detail)

"""Figures, their statistics, the printed table and the JSON file."""

import json
import math
import os
import platform
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import psycopg
from rich.console import Console
from rich.table import Table

Detail = dict[str, float | int | str]


@dataclass
class Figure:
    section: str
    name: str
    value: float | None  # None: the measurement failed (see detail["error"])
    unit: str
    detail: Detail = field(default_factory=dict)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_detail(seconds: Sequence[float]) -> Detail:
    """p50, p99 and max of latencies given in seconds, in milliseconds."""
    return {
        "p50_ms": round(percentile(seconds, 50) * 1000, 2),
        "p99_ms": round(percentile(seconds, 99) * 1000, 2),
        "max_ms": round(max(seconds, default=math.nan) * 1000, 2),
    }


def process_cpu() -> float:
    """CPU seconds (user + system) this process has used so far, all threads."""
    times = os.times()
    return times.user + times.system


def per_second(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else math.nan


def machine_facts(admin_url: str) -> dict[str, Any]:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        row = conn.execute("SELECT version(), current_setting('server_version')").fetchone()
        settings: dict[str, str] = dict(
            conn.execute(
                """SELECT name, setting FROM pg_settings WHERE name IN
                   ('synchronous_commit', 'fsync', 'shared_buffers', 'wal_level')"""
            ).fetchall()
        )
    return {
        "cpu_count": os.cpu_count(),
        "loadavg_at_start": os.getloadavg(),
        "affinity_cpus": len(os.sched_getaffinity(0)),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "postgres": row[1] if row else None,
        "postgres_version": row[0] if row else None,
        "postgres_settings": settings,
        "packages": {
            name: version(name)
            for name in ("eventsourcing", "psycopg", "confluent-kafka", "fastapi", "uvicorn")
        },
    }


def print_table(figures: Sequence[Figure], console: Console, benchmark: str = "backbone") -> None:
    table = Table(title=f"Jalur {benchmark} benchmark")
    for column in ("section", "figure", "value", "unit", "p50 ms", "p99 ms", "detail"):
        numeric = column in {"value", "p50 ms", "p99 ms"}
        table.add_column(column, justify="right" if numeric else "left")
    shown_apart = {"p50_ms", "p99_ms"}
    for figure in figures:
        value = "FAILED" if figure.value is None else f"{figure.value:,.1f}"
        p50, p99 = (str(figure.detail.get(k, "")) for k in ("p50_ms", "p99_ms"))
        rest = ", ".join(f"{k}={v}" for k, v in figure.detail.items() if k not in shown_apart)
        table.add_row(figure.section, figure.name, value, figure.unit, p50, p99, rest)
    console.print(table)


def write_json(
    path: Path,
    parameters: dict[str, Any],
    machine: dict[str, Any],
    figures: Sequence[Figure],
    benchmark: str = "backbone",
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "benchmark": benchmark,
        "finished_at": datetime.now(UTC).isoformat(),
        "parameters": parameters,
        "machine": machine,
        "figures": [asdict(figure) for figure in figures],
    }
    path.write_text(json.dumps(_finite(document), indent=2, default=str, allow_nan=False) + "\n")


def _finite(value: Any) -> Any:
    """NaN and infinities (no samples) become null: JSON has no NaN."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value

"""Run wrk with bench/wrk/jalur.lua and read the summary line its done() prints."""

import json
import secrets
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from report import Detail

SCRIPT = Path(__file__).resolve().parent / "wrk" / "jalur.lua"
WRK_THREADS = 2  # the machine has 2 cores; wrk shares them with the server under test
OK = {"200", "201"}


@dataclass(frozen=True)
class WrkResult:
    requests: int
    ok: int  # answered 200 or 201
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    statuses: dict[str, int]
    socket_errors: int

    @property
    def ok_per_s(self) -> float:
        return round(self.ok / self.seconds, 1) if self.seconds else 0.0

    def detail(self) -> Detail:
        statuses = " ".join(f"{k}:{v}" for k, v in sorted(self.statuses.items()))
        return {
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "max_ms": self.max_ms,
            "requests": self.requests,
            "seconds": round(self.seconds, 2),
            "statuses": statuses,
            "socket_errors": self.socket_errors,
        }


def run_wrk(
    url: str,
    mode: str,
    awbs: Sequence[str],
    seconds: float,
    connections: int,
    api_key: str = "",
) -> WrkResult:
    """`mode` is scan, batch or track (see the script); scan ids are fresh for every run."""
    with tempfile.NamedTemporaryFile("w", suffix=".awbs") as awb_file:
        awb_file.write("\n".join(awbs) + "\n")
        awb_file.flush()
        argv = [
            "wrk",
            f"-t{min(WRK_THREADS, connections)}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout=10s",
            "-s",
            str(SCRIPT),
            url,
            "--",
            mode,
            awb_file.name,
            secrets.token_hex(4),
            *([api_key] if api_key else []),
        ]
        done = subprocess.run(argv, capture_output=True, text=True, check=True)
    return _parse(done.stdout)


def _parse(stdout: str) -> WrkResult:
    line = next(x for x in stdout.splitlines() if x.startswith("WRK_JSON "))
    raw = json.loads(line.removeprefix("WRK_JSON "))
    statuses = {str(k): int(v) for k, v in raw["statuses"].items()}
    return WrkResult(
        requests=raw["requests"],
        ok=sum(v for k, v in statuses.items() if k in OK),
        seconds=raw["duration_us"] / 1e6,
        p50_ms=round(raw["p50_us"] / 1000, 2),
        p99_ms=round(raw["p99_us"] / 1000, 2),
        max_ms=round(raw["max_us"] / 1000, 2),
        statuses=statuses,
        socket_errors=raw["socket_errors"],
    )

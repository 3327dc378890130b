"""The systems under test, each a child process that is stopped on the way out: a whole
`jalur up` (the real supervisor) and the anchors (bench/anchors/, served like `jalur api`)."""

import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from harness import ROOT, child_env, child_process, wait_ready

from infra.runtime.embedded import free_port
from infra.settings import Settings

ANCHORS = Path(__file__).resolve().parent / "anchors"
READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Server:
    url: str
    pid: int
    cert: Path
    state_dir: Path | None = None


@contextlib.contextmanager
def jalur_up(settings: Settings, state_dir: Path, log_path: Path) -> Iterator[Server]:
    """`jalur up` in `state_dir`; whatever settings leave out (database, broker) it embeds."""
    port = free_port()
    chosen = settings.model_copy(
        update={"state_dir": state_dir, "api_host": "127.0.0.1", "api_port": port}
    )
    argv = [sys.executable, "-m", "infra.runtime.cli", "up"]
    cert = settings.tls_cert or state_dir / "tls" / "cert.pem"  # else made by `jalur up`
    # SIGTERM: the supervisor then stops its children, broker and database.
    with child_process(
        argv, child_env(chosen), log_path, signal.SIGTERM, STOP_TIMEOUT_S
    ) as process:
        wait_ready(process, f"https://127.0.0.1:{port}/healthz", cert, log_path, READY_TIMEOUT_S)
        yield Server(f"https://127.0.0.1:{port}", process.pid, cert, state_dir)


@contextlib.contextmanager
def anchor(
    module: str, database_url: str, cert: Path, key: Path, log_path: Path
) -> Iterator[Server]:
    """One anchor app (bench/anchors/MODULE.py) over HTTPS with Jalur's TLS and settings."""
    port = free_port()
    argv = [sys.executable, str(ANCHORS / "serve.py"), module, str(port), str(cert), str(key)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ANCHOR_DATABASE_URL": database_url}
    with child_process(argv, env, log_path, signal.SIGTERM, STOP_TIMEOUT_S) as process:
        wait_ready(
            process, f"https://127.0.0.1:{port}/openapi.json", cert, log_path, READY_TIMEOUT_S
        )
        yield Server(f"https://127.0.0.1:{port}", process.pid, cert)

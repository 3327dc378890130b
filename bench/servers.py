"""The systems under test, each a child process that is stopped on the way out: a whole
`jalur up` (the real supervisor) and the anchors (bench/anchors/, served like `jalur api`)."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from harness import ROOT, child_env, trusting

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
    with _child(argv, child_env(chosen), log_path) as process:
        _wait_ready(process, f"https://127.0.0.1:{port}/healthz", cert, log_path)
        yield Server(f"https://127.0.0.1:{port}", process.pid, cert, state_dir)


@contextlib.contextmanager
def anchor(
    module: str, database_url: str, cert: Path, key: Path, log_path: Path
) -> Iterator[Server]:
    """One anchor app (bench/anchors/MODULE.py) over HTTPS with Jalur's TLS and settings."""
    port = free_port()
    argv = [sys.executable, str(ANCHORS / "serve.py"), module, str(port), str(cert), str(key)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ANCHOR_DATABASE_URL": database_url}
    with _child(argv, env, log_path) as process:
        _wait_ready(process, f"https://127.0.0.1:{port}/openapi.json", cert, log_path)
        yield Server(f"https://127.0.0.1:{port}", process.pid, cert)


@contextlib.contextmanager
def _child(
    argv: list[str], env: dict[str, str], log_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with log_path.open("ab") as out:
        process = subprocess.Popen(
            argv,
            env=env,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            process_group=0,  # Ctrl-C reaches only the bench, which stops it in order
        )
    try:
        yield process
    finally:
        _stop(process)


def _wait_ready(process: subprocess.Popen[bytes], url: str, cert: Path, log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}:\n{_tail(log_path)}")
        with contextlib.suppress(httpx.HTTPError, OSError):
            if cert.exists() and httpx.get(url, verify=trusting(cert), timeout=2).is_success:
                return
        time.sleep(0.3)
    raise RuntimeError(f"{url} was not ready within {READY_TIMEOUT_S:.0f} s:\n{_tail(log_path)}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (the supervisor then stops its children, broker and database), else SIGKILL."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

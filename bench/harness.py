"""Servers and databases for the benchmark: PostgreSQL, the broker, fresh databases and
the real API process. Everything here cleans up after itself, also on Ctrl-C."""

import base64
import contextlib
import json
import logging
import math
import os
import secrets
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from uuid import uuid4

import httpx
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from pydantic import SecretStr

from infra.runtime.embedded import EmbeddedBroker, EmbeddedPostgres, free_port
from infra.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
API_READY_TIMEOUT_S = 60.0
API_STOP_TIMEOUT_S = 15.0
log = logging.getLogger("bench")


class Interrupted(KeyboardInterrupt):
    """Raised in the main thread on the first SIGINT or SIGTERM."""


def interrupt_once() -> None:
    """The first SIGINT/SIGTERM interrupts the run; later ones cannot cut the cleanup short."""
    received: list[int] = []

    def handler(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        if len(received) == 1:
            raise Interrupted
        print("cleaning up: child processes and databases are being removed", file=sys.stderr)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, handler)


def require_local_database(url: str) -> None:
    params = conninfo_to_dict(url)
    for host in str(params.get("hostaddr") or params.get("host") or "").split(","):
        if host and not host.startswith("/") and host not in LOCAL_HOSTS:
            raise SystemExit(f"refusing a non-local PostgreSQL host {host!r} (127.0.0.1 only)")


def require_local_broker(bootstrap: str) -> None:
    for server in bootstrap.split(","):
        host = server.rsplit(":", 1)[0].strip()
        if host not in LOCAL_HOSTS:
            raise SystemExit(f"refusing a non-local Kafka broker {server!r} (127.0.0.1 only)")


@contextlib.contextmanager
def postgres_admin_url(tmp: Path) -> Iterator[str]:
    """JALUR_BENCH_DATABASE_URL, else an embedded server that lives for this run only."""
    url = os.environ.get("JALUR_BENCH_DATABASE_URL")
    if url:
        require_local_database(url)
        yield url
        return
    log.info("starting an embedded PostgreSQL")
    server = EmbeddedPostgres.start(tmp / "pg-data")
    try:
        yield server.url
    finally:
        server.stop()


@contextlib.contextmanager
def kafka_bootstrap(tmp: Path) -> Iterator[str]:
    """JALUR_BENCH_KAFKA_BOOTSTRAP, else an embedded broker that lives for this run only."""
    bootstrap = os.environ.get("JALUR_BENCH_KAFKA_BOOTSTRAP")
    if bootstrap:
        require_local_broker(bootstrap)
        yield bootstrap
        return
    log.info("starting an embedded broker")
    broker = EmbeddedBroker.start(tmp / "broker")
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@contextlib.contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    """A new, empty database for one figure, dropped afterwards (even if still in use)."""
    name = f"jalur_bench_{uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_conninfo(admin_url, dbname=name)
    finally:
        _drop_database(admin_url, name)


def _drop_database(admin_url: str, name: str) -> None:
    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
    except psycopg.Error as error:
        log.warning("could not drop database %s: %s", name, error)


def bench_settings(database_url: str, bootstrap: str, partitions: int) -> Settings:
    """Settings for one figure: its own database, its own topics and its own master key
    (the keyring on that database seals the bookings' personal data, as in production)."""
    return Settings(
        database_url=database_url,
        kafka_bootstrap=bootstrap,
        topic_prefix=f"bench{uuid4().hex[:10]}",
        kafka_partitions=partitions,
        kafka_session_timeout_ms=6000,
        kafka_fetch_wait_max_ms=10,
        master_key=SecretStr(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()),
    )


def child_env(settings: Settings) -> dict[str, str]:
    """The environment that gives a `jalur` child process exactly these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JALUR_")}
    for name, value in settings.model_dump(exclude_none=True).items():
        plain = value.get_secret_value() if isinstance(value, SecretStr) else value
        env[f"JALUR_{name.upper()}"] = json.dumps(plain) if isinstance(plain, dict) else str(plain)
    env["PYTHONPATH"] = str(ROOT)
    return env


def trusting(cert: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert))


@dataclass(frozen=True)
class ApiProcess:
    url: str
    pid: int


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far; NaN where /proc is missing."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def api_server(settings: Settings, cert: Path, key: Path, log_path: Path) -> Iterator[ApiProcess]:
    """`jalur api` (serve_https of infra.runtime.web_app:from_environment) as a child process."""
    api = settings.model_copy(
        update={"api_host": "127.0.0.1", "api_port": free_port(), "tls_cert": cert, "tls_key": key}
    )
    argv = [sys.executable, "-m", "infra.runtime.cli", "api"]
    url = f"https://127.0.0.1:{api.api_port}"
    # SIGINT: uvicorn's graceful shutdown, closing the pools before we drop its database.
    with child_process(
        argv, child_env(api), log_path, signal.SIGINT, API_STOP_TIMEOUT_S
    ) as process:
        wait_ready(process, f"{url}/healthz", cert, log_path, API_READY_TIMEOUT_S)
        yield ApiProcess(url, process.pid)


@contextlib.contextmanager
def child_process(
    argv: list[str],
    env: dict[str, str],
    log_path: Path,
    stop_signal: signal.Signals,
    stop_timeout_s: float,
) -> Iterator[subprocess.Popen[bytes]]:
    """A server as a child in its own process group (Ctrl-C reaches only the bench, which
    stops it in order): `stop_signal` when done, its whole group killed if it lingers."""
    with log_path.open("ab") as out:
        process = subprocess.Popen(
            argv,
            env=env,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            process_group=0,
        )
    try:
        yield process
    finally:
        _stop(process, stop_signal, stop_timeout_s)


def wait_ready(
    process: subprocess.Popen[bytes], url: str, cert: Path, log_path: Path, timeout_s: float
) -> None:
    """Until `url` answers 2xx over HTTPS (trusting `cert`, once it exists); an error with
    the log's tail if the process exits or the time runs out first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}:\n{_tail(log_path)}")
        with contextlib.suppress(httpx.HTTPError, OSError):
            if cert.exists() and httpx.get(url, verify=trusting(cert), timeout=2).is_success:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} was not ready within {timeout_s:.0f} s:\n{_tail(log_path)}")


def _stop(process: subprocess.Popen[bytes], stop_signal: signal.Signals, timeout_s: float) -> None:
    if process.poll() is not None:
        return
    process.send_signal(stop_signal)
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        log.warning("%s ignored %s; killing its process group", process.args, stop_signal.name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

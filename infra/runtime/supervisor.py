"""`jalur up`: the whole system on one machine with no configuration.

Starts what settings leave out (an embedded PostgreSQL, an embedded broker, a self-signed
certificate), then runs the API, the relay and every projection consumer as child
processes, exactly as a deployment would run them one by one (`jalur api`, ...), so that
nothing works here that would not work there.

Children run in their own process groups: Ctrl-C reaches only this supervisor, which then
stops everything in order (children first, then the broker and the database they use),
instead of racing a terminal-wide SIGINT. A child that dies is restarted with backoff.

Nothing outlives it, whatever ends it: the children and the broker get SIGTERM from Linux
when it dies (infra/runtime/orphan_guard.py), and a watchdog in its own session stops the
embedded PostgreSQL (infra/runtime/watchdog.py). STATE_DIR/run records what runs
(infra/runtime/run_dir.py): a second `jalur up` in the same folder is refused, and one
after a crash first stops what the crashed run left. It also says where the database and broker are
(infra/host/endpoints.py), so operator commands run in this folder find them.
"""

import contextlib
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from commands.accounts.staff import FIRST_ADMIN_USER_ID
from consumers.registry import PROJECTIONS
from infra.host import endpoints
from infra.host.processes import Recorded
from infra.runtime.embedded import EmbeddedBroker, EmbeddedPostgres
from infra.runtime.first_start import master_key, prepare
from infra.runtime.orphan_guard import guarded
from infra.runtime.run_dir import BROKER, UP, RunDir
from infra.runtime.tls import ensure_certificate
from infra.runtime.watchdog import Watchdog
from infra.settings import Settings

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
STOP_GRACE_S = 5.0
RESTART_MAX_DELAY_S = 30.0
HEALTHY_AFTER_S = 60.0  # a child that ran this long starts its backoff again at 1 s
POLL_INTERVAL_S = 0.5


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None
    failures: int = 0
    started_at: float = 0.0
    restart_at: float = 0.0


def up(settings: Settings) -> None:
    """Run everything until Ctrl-C or SIGTERM, then stop it all and return."""
    state_dir, run, lock = _claim_state_dir(settings)
    stop = threading.Event()
    with contextlib.ExitStack() as stack:
        stack.enter_context(_stop_on_signals(stop))
        _start_watchdog(settings, state_dir, lock, run, stack)
        os.close(lock)  # the watchdog holds it now, until it is done
        env = _start_services(settings, state_dir, run, stack)
        _tell_operators(state_dir, env)
        children = _children()
        admin_password = prepare(_settings_from(settings, env))
        _print_urls(settings, state_dir, env)
        if admin_password:
            print(
                f"First start: an admin was created.\n"
                f"  user id   {FIRST_ADMIN_USER_ID}\n"
                f"  password  {admin_password}   (shown once; change it at first sign-in)",
                flush=True,
            )
        try:
            _supervise(children, env, stop, run)
        finally:
            _terminate(children)
    log.info("stopped")


def _claim_state_dir(settings: Settings) -> tuple[Path, RunDir, int]:
    """The state folder, locked for this run, with whatever an earlier run left stopped."""
    state_dir = settings.state_dir.expanduser().resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    run = RunDir(state_dir)
    lock = run.lock()
    run.stop_leftovers(state_dir / "postgres")
    run.record(UP, os.getpid())
    return state_dir, run, lock


def _start_watchdog(
    settings: Settings, state_dir: Path, lock: int, run: RunDir, stack: contextlib.ExitStack
) -> None:
    """Start the watchdog; on the way out (last, after every service stopped) let it go."""
    (state_dir / "logs").mkdir(exist_ok=True)
    embedded = None if settings.database_url else state_dir / "postgres"
    with (state_dir / "logs" / "watchdog.log").open("ab") as log_file:
        watchdog = Watchdog.start(state_dir, lock, embedded, log_file)
    run.record("watchdog", watchdog.process.pid)
    stack.callback(watchdog.stand_down)
    stack.callback(run.clear)


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    previous = {signum: signal.signal(signum, lambda *_: stop.set()) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _children() -> list[Child]:
    programs = [["api"], ["relay"], *(["consume", name] for name in PROJECTIONS)]
    return [
        Child(" ".join(args), [sys.executable, "-m", "infra.runtime.cli", *args])
        for args in programs
    ]


def _tell_operators(state_dir: Path, env: dict[str, str]) -> None:
    """Where the database and broker are, for operator commands run in this folder."""
    this = Recorded.of(os.getpid())
    if this is not None:  # None off Linux: no /proc to tell a live run from a pid reused
        endpoints.write(state_dir, this, env["JALUR_DATABASE_URL"], env["JALUR_KAFKA_BOOTSTRAP"])


def _start_services(
    settings: Settings, state_dir: Path, run: RunDir, stack: contextlib.ExitStack
) -> dict[str, str]:
    """Start whatever settings leave out; return the children's environment."""
    database_url = settings.database_url
    if not database_url:
        postgres = EmbeddedPostgres.start(state_dir / "postgres")
        stack.callback(postgres.stop)
        database_url = postgres.url
    bootstrap = settings.kafka_bootstrap
    if not bootstrap:
        broker = EmbeddedBroker.start(state_dir / "logs")
        run.record(BROKER, broker.pid)
        stack.callback(broker.stop)  # runs before postgres.stop: callbacks unwind in reverse
        bootstrap = broker.bootstrap
    cert, key = settings.tls_cert, settings.tls_key
    if cert is None or key is None:
        cert, key = ensure_certificate(state_dir)
    return {
        **os.environ,
        "JALUR_MASTER_KEY": master_key(settings, state_dir),
        "JALUR_DATABASE_URL": database_url,
        "JALUR_KAFKA_BOOTSTRAP": bootstrap,
        "JALUR_KAFKA_MEMORY_ONLY": str(settings.kafka_memory_only or not settings.kafka_bootstrap),
        "JALUR_TLS_CERT": str(Path(cert).resolve()),
        "JALUR_TLS_KEY": str(Path(key).resolve()),
    }


def _settings_from(settings: Settings, env: dict[str, str]) -> Settings:
    """The settings the children will read from this environment."""
    return settings.model_copy(
        update={
            "database_url": env["JALUR_DATABASE_URL"],
            "kafka_bootstrap": env["JALUR_KAFKA_BOOTSTRAP"],
            "master_key": SecretStr(env["JALUR_MASTER_KEY"]),
        }
    )


def _print_urls(settings: Settings, state_dir: Path, env: dict[str, str]) -> None:
    host = settings.api_host
    if host in ("", "0.0.0.0", "::"):  # noqa: S104 (displaying, not binding)
        host = "localhost"
    elif ":" in host:
        host = f"[{host}]"
    api = f"https://{host}:{settings.api_port}"
    print(
        f"Jalur is starting (Ctrl-C stops everything):\n"
        f"  API          {api}\n"
        f"  API docs     {api}/docs\n"
        f"  database     {mask_password(env['JALUR_DATABASE_URL'])}\n"
        f"  broker       {env['JALUR_KAFKA_BOOTSTRAP']}\n"
        f"  certificate  {env['JALUR_TLS_CERT']}\n"
        f"Operator commands find this system from its folder; a device key, from another"
        f" terminal:\n  {_state_dir_prefix(settings, state_dir)}"
        f".venv/bin/jalur keys create --hub CGK10000",
        flush=True,
    )


def _state_dir_prefix(settings: Settings, state_dir: Path) -> str:
    """What an operator command needs to find this system: nothing in the same folder."""
    if state_dir == Settings.model_fields["state_dir"].default.resolve():
        return ""
    return f"JALUR_STATE_DIR='{state_dir}' "


def mask_password(url: str) -> str:
    """The URL or key=value DSN with any password replaced by ***."""
    url = re.sub(r"(://[^:/@?]*:)[^@/?]*@", r"\1***@", url)
    return re.sub(r"(password\s*=\s*)('[^']*'|[^&\s]*)", r"\1***", url, flags=re.IGNORECASE)


def _supervise(
    children: list[Child], env: dict[str, str], stop: threading.Event, run: RunDir
) -> None:
    """Start and restart the children: from this, the main, thread, so that they get their
    SIGTERM when this process dies, not when some other thread ends (orphan_guard)."""
    for child in children:
        _spawn(child, env, run)
    while not stop.wait(POLL_INTERVAL_S):
        now = time.monotonic()
        for child in children:
            if child.process is None:
                if now >= child.restart_at:
                    _spawn(child, env, run)
            elif (code := child.process.poll()) is not None:
                _schedule_restart(child, code, now)


def _spawn(child: Child, env: dict[str, str], run: RunDir) -> None:
    child.process = subprocess.Popen(guarded(child.argv), env=env, process_group=0)  # noqa: S603
    run.record(child.name, child.process.pid)
    child.started_at = time.monotonic()
    log.info("started %s (pid %d)", child.name, child.process.pid)


def _schedule_restart(child: Child, code: int, now: float) -> None:
    if now - child.started_at >= HEALTHY_AFTER_S:
        child.failures = 0
    delay = min(RESTART_MAX_DELAY_S, 2.0**child.failures)
    child.failures += 1
    child.process = None
    child.restart_at = now + delay
    log.warning("%s exited with code %d; restarting in %.0f s", child.name, code, delay)


def _terminate(children: list[Child]) -> None:
    """SIGTERM every running child, wait up to STOP_GRACE_S in all, then SIGKILL the rest."""
    running = [c for c in children if c.process is not None and c.process.poll() is None]
    for child in running:
        _signal_group(child, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    for child in running:
        assert child.process is not None
        try:
            child.process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop within %.0f s; killing it", child.name, STOP_GRACE_S)
            _signal_group(child, signal.SIGKILL)
            child.process.wait()


def _signal_group(child: Child, signum: signal.Signals) -> None:
    # The child leads its own group (process_group=0), so this also reaches its children.
    assert child.process is not None
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.process.pid, signum)

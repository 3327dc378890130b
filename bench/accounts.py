"""Jalur accounts benchmark: what passwords, sign-ins and sealing cost.

    .venv/bin/python bench/accounts.py [--out PATH]

Measured in this process (no HTTP, no Kafka), each database figure on a fresh database:

1. argon2id hash and verify at the default parameters and at OWASP's minimum (t=2,
   19 MiB, p=1; the defaults are these too unless settings raise them);
2. successful sign-ins (SignIn.begin + finish) per second and their latency, sequentially
   and from 2 and 4 threads;
3. a failed sign-in for an unknown user id against a wrong password for a real one (the
   no-enumeration property, without the API's minimum response time);
4. bookings per second with sealing: walk-in parties (two new data keys per booking), a
   customer shipper (its key cached), two customers (no new key), sealing off, and walk-in
   parties with e-mail addresses booked as the API does (account look-ups, and the
   parties left waiting for a customer to verify their address);
5. the keyring: unseal_many of 25 values of 25 subjects, and seal for a cached subject.

PostgreSQL: JALUR_BENCH_DATABASE_URL (a local server), else an embedded one in a temp dir.
Prints a table and writes every figure, the parameters and machine facts as JSON.
"""

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from importlib.metadata import version
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from harness import bench_settings, fresh_database, interrupt_once, postgres_admin_url
from report import (
    Detail,
    Figure,
    latency_detail,
    machine_facts,
    per_second,
    print_table,
    process_cpu,
    write_json,
)
from rich.console import Console
from workload import ACTOR, booking

from commands.accounts.identity import NewAccount
from commands.container import Container
from commands.shipments import Shipments
from domain.booking import Booking
from domain.errors import Unauthenticated
from infra.postgres import credentials
from infra.postgres.connections import eventsourcing_env
from infra.runtime.bootstrap import bootstrap, build_applications
from infra.security.passwords import Passwords
from infra.settings import Settings

RESULTS = Path(__file__).resolve().parent / "results"
NO_KAFKA = "127.0.0.1:9"  # Settings want a bootstrap; nothing here talks to a broker
PASSWORD = "correct horse battery staple"
WRONG_PASSWORD = "incorrect horse battery staple"
FAILURES_PER_ACCOUNT = 3  # below the throttle's first delay (4 failures)
UNSEAL_SUBJECTS = 25
OWASP_MINIMUM = {"argon2_time_cost": 2, "argon2_memory_kib": 19456, "argon2_parallelism": 1}
Measure = Callable[[Settings], list[Figure]]
console = Console() if sys.stdout.isatty() else Console(width=180)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="JSON output (default bench/results/...)")
    parser.add_argument("--hashes", type=int, default=20, help="argon2 runs per figure")
    parser.add_argument("--signins", type=int, default=24, help="sign-ins per figure")
    parser.add_argument("--failures", type=int, default=20, help="failed sign-ins of each kind")
    parser.add_argument("--bookings", type=int, default=500, help="bookings per figure")
    parser.add_argument("--unseals", type=int, default=200, help="unseal_many calls")
    parser.add_argument("--seals", type=int, default=5000, help="seal calls, cached subject")
    args = parser.parse_args(argv)
    counts = (args.hashes, args.signins, args.failures, args.bookings, args.unseals, args.seals)
    if not all(1 <= n <= 100_000 for n in counts) or args.signins % 4:
        parser.error("counts must be 1..100,000 and --signins a multiple of 4")
    return args


# 1. argon2id ---------------------------------------------------------------------------


def argon2_figures(settings: Settings, label: str, runs: int, owasp: bool = False) -> list[Figure]:
    if owasp:
        settings = settings.model_copy(update=OWASP_MINIMUM)
    passwords = Passwords(settings)
    params: Detail = {
        "t": settings.argon2_time_cost,
        "m_kib": settings.argon2_memory_kib,
        "p": settings.argon2_parallelism,
        "runs": runs,
    }
    hashes, hash_s = timed(lambda _: passwords.hash(PASSWORD), range(runs))
    _, verify_s = timed(lambda i: passwords.verify(hashes[i], PASSWORD), range(runs))
    return [
        latency_figure("argon2id", f"hash, {label}", hash_s, params),
        latency_figure("argon2id", f"verify, {label}", verify_s, params),
    ]


# 2. and 3. sign-in ---------------------------------------------------------------------


def active_accounts(container: Container, count: int) -> dict[str, UUID]:
    """Registered customers (user id -> account id) whose credentials are active. The
    e-mail link step is skipped: the status is set directly, as following the link would."""
    now, accounts = datetime.now(UTC), {}
    for _ in range(count):
        user_id = f"bench{uuid4().hex[:12]}"
        new = NewAccount(user_id, f"{user_id}@example.id", PASSWORD, "Budi Santoso", None)
        account_id = container.identity.register(new, now)
        assert account_id is not None
        accounts[user_id] = account_id
    with container.pool.connection() as conn:
        conn.execute("UPDATE credentials SET status = %s", (credentials.ACTIVE,))
    return accounts


def sign_in(container: Container, user_id: str, client: str, device: str | None) -> str | None:
    """One successful sign-in; the device token to present next time."""
    attempt = container.signin.begin(user_id, client, device, datetime.now(UTC))
    assert attempt.verdict.delay_s == 0, attempt.verdict  # begin raises when not allowed
    signed = container.signin.finish(attempt, PASSWORD, datetime.now(UTC))
    return signed.device_token or device


def signins(settings: Settings, threads: int, total: int) -> list[Figure]:
    """`threads` customers sign in again and again (each from its own thread, address and
    trusted device); a success forgives the attempt, so the throttle never delays."""
    container = bootstrap(settings)
    try:
        user_ids = list(active_accounts(container, threads))
        clients = [f"198.51.100.{n}" for n in range(threads)]
        # The first sign-in trusts the device (and warms the pools); then it is presented.
        devices = [sign_in(container, u, c, None) for u, c in zip(user_ids, clients, strict=True)]

        def worker(n: int) -> list[float]:
            latencies, device = [], devices[n]
            for _ in range(total // threads):
                began = time.perf_counter()
                device = sign_in(container, user_ids[n], clients[n], device)
                latencies.append(time.perf_counter() - began)
            return latencies

        began, cpu = time.perf_counter(), process_cpu()
        with ThreadPoolExecutor(threads) as pool:
            latencies = [s for result in pool.map(worker, range(threads)) for s in result]
        seconds, cpu = time.perf_counter() - began, process_cpu() - cpu
    finally:
        container.close()
    detail: Detail = {
        **latency_detail(latencies),
        "sign_ins": len(latencies),
        "threads": threads,
        "seconds": round(seconds, 3),
        "cpu_util": round(cpu / seconds, 2),
    }
    name = f"begin + finish, {'sequential' if threads == 1 else f'{threads} threads'}"
    return [Figure("sign-in", name, per_second(len(latencies), seconds), "sign-ins/s", detail)]


def failed_signins(settings: Settings, count: int) -> list[Figure]:
    """Unknown user ids against wrong passwords for real ones, interleaved; every attempt
    from its own address and at most 3 per account, so no throttle delay applies."""
    container = bootstrap(settings)
    try:
        user_ids = list(active_accounts(container, -(-count // FAILURES_PER_ACCOUNT)))

        def attempt(user_id: str, n: int) -> float:
            began = time.perf_counter()
            try:
                now = datetime.now(UTC)
                started = container.signin.begin(user_id, f"203.0.113.{n % 250}", None, now)
                assert started.verdict.delay_s == 0, started.verdict
                container.signin.finish(started, WRONG_PASSWORD, now)
            except Unauthenticated:
                return time.perf_counter() - began
            raise AssertionError("a wrong password was accepted")

        unknown, wrong = [], []
        for n in range(count):
            unknown.append(attempt(f"ghost{uuid4().hex[:12]}", 2 * n))
            wrong.append(attempt(user_ids[n // FAILURES_PER_ACCOUNT], 2 * n + 1))
    finally:
        container.close()
    gap = round((statistics.median(wrong) - statistics.median(unknown)) * 1000, 2)
    extra: Detail = {"attempts": count, "median_gap_ms": gap, "min_response_floor": "off"}
    return [
        latency_figure("failed sign-in", "unknown user id", unknown, extra),
        latency_figure("failed sign-in", "wrong password, real account", wrong, extra),
    ]


# 4. bookings ---------------------------------------------------------------------------


class NoSealing:
    """Keeps personal values in clear: the baseline that shows what sealing costs."""

    def seal(self, subject: UUID, values: Mapping[str, str | None]) -> dict[str, str | None]:
        return dict(values)

    def seal_many(
        self, values: Mapping[UUID, Mapping[str, str | None]]
    ) -> dict[UUID, dict[str, str | None]]:
        return {subject: dict(fields) for subject, fields in values.items()}

    def unseal_many(self, values: Iterable[str | None]) -> dict[str, str | None]:
        return {}


def bookings(settings: Settings, parties: str, count: int) -> list[Figure]:
    """`parties`: walk-in (both parties new subjects), shipper (a customer books for
    walk-in receivers), customers (a customer books for another customer), or unsealed."""
    container = bootstrap(settings)
    shipments = container.shipments
    shipper: UUID | None = None
    receiver: UUID | None = None
    try:
        if parties in {"shipper", "customers"}:
            ids = list(active_accounts(container, 1 if parties == "shipper" else 2).values())
            shipper, receiver = ids[0], (ids[1] if parties == "customers" else None)
        if parties == "unsealed":
            env = eventsourcing_env(settings.require_database_url(), Shipments.name)
            shipments = Shipments(env=env, sealer=NoSealing())
        keys_before = data_keys(container)
        began, cpu = time.perf_counter(), process_cpu()
        for n in range(count):
            if parties == "emails":  # as POST /v1/shipments books, without HTTP
                container.party_links.book(
                    with_emails(booking(n), n), actor=ACTOR, now=datetime.now(UTC)
                )
                continue
            shipments.book(
                booking(n),
                actor=ACTOR,
                now=datetime.now(UTC),
                shipper_account=shipper,
                receiver_account=receiver,
            )
        seconds, cpu = time.perf_counter() - began, process_cpu() - cpu
        new_keys = data_keys(container) - keys_before
    finally:
        if shipments is not container.shipments:
            shipments.close()
        container.close()
    detail: Detail = {
        "bookings": count,
        "seconds": round(seconds, 3),
        "ms_per_booking": round(seconds * 1000 / count, 3),
        "python_cpu_ms_per_booking": round(cpu * 1000 / count, 3),
        "data_keys_created": new_keys,
    }
    names = {
        "walk-in": "walk-in parties (2 new keys each)",
        "shipper": "customer shipper (key cached), walk-in receiver",
        "customers": "customer to customer (both keys cached)",
        "unsealed": "walk-in, sealing off (baseline)",
        "emails": "walk-in with e-mails, as the API books (look-ups, waiting parties)",
    }
    return [Figure("booking", names[parties], per_second(count, seconds), "bookings/s", detail)]


def with_emails(plain: Booking, n: int) -> Booking:
    return replace(
        plain,
        shipper=replace(plain.shipper, email=f"budi{n}@example.id"),
        receiver=replace(plain.receiver, email=f"siti{n}@example.id"),
    )


def data_keys(container: Container) -> int:
    with container.pool.connection() as conn:
        row = conn.execute("SELECT count(*) FROM data_keys").fetchone()
    return int(row[0]) if row else 0


# 5. keyring ----------------------------------------------------------------------------


def keyring(settings: Settings, unseals: int, seals: int) -> list[Figure]:
    apps = build_applications(settings)
    try:
        ring = apps.keyring
        party = {"name": "Budi Santoso", "phone": "081234567890", "address": "Jl. Merdeka 1"}
        sealed = [ring.seal(uuid4(), {"name": f"Siti {n}"})["name"] for n in range(UNSEAL_SUBJECTS)]
        ring.unseal_many(sealed)  # warms the pool's connection
        opened, unseal_s = timed(lambda _: ring.unseal_many(sealed), range(unseals))
        assert None not in opened[-1].values()
        assert len(opened[-1]) == UNSEAL_SUBJECTS
        subject = uuid4()
        ring.seal(subject, party)  # creates and caches the key
        began, cpu = time.perf_counter(), process_cpu()
        for _ in range(seals):
            ring.seal(subject, party)
        seconds, cpu = time.perf_counter() - began, process_cpu() - cpu
    finally:
        apps.close()
    seal_detail: Detail = {
        "calls": seals,
        "values_per_call": len(party),
        "us_per_call": round(seconds * 1e6 / seals, 1),
        "cpu_util": round(cpu / seconds, 2),
    }
    return [
        latency_figure(
            "keyring",
            f"unseal_many, {UNSEAL_SUBJECTS} values of {UNSEAL_SUBJECTS} subjects",
            unseal_s,
            {"calls": unseals, "queries_per_call": 1},
        ),
        Figure(
            "keyring", "seal, cached subject", per_second(seals, seconds), "calls/s", seal_detail
        ),
    ]


# Running, the table and the JSON ------------------------------------------------------


def timed(action: Callable[[int], Any], items: Iterable[int]) -> tuple[list[Any], list[float]]:
    """Each action's result and its duration in seconds."""
    results, seconds = [], []
    for item in items:
        began = time.perf_counter()
        results.append(action(item))
        seconds.append(time.perf_counter() - began)
    return results, seconds


def latency_figure(section: str, name: str, seconds: list[float], extra: Detail) -> Figure:
    median = round(statistics.median(seconds) * 1000, 2)
    return Figure(section, name, median, "ms (median)", {**latency_detail(seconds), **extra})


def measurements(args: argparse.Namespace) -> list[tuple[bool, Measure]]:
    """(needs a fresh database, step)."""
    return [
        (False, partial(argon2_figures, label="default", runs=args.hashes)),
        (False, partial(argon2_figures, label="OWASP minimum", runs=args.hashes, owasp=True)),
        *((True, partial(signins, threads=t, total=args.signins)) for t in (1, 2, 4)),
        (True, partial(failed_signins, count=args.failures)),
        *(
            (True, partial(bookings, parties=p, count=args.bookings))
            for p in ("walk-in", "shipper", "customers", "unsealed", "emails")
        ),
        (True, partial(keyring, unseals=args.unseals, seals=args.seals)),
    ]


def measure(step: Measure, needs_database: bool, admin_url: str) -> list[Figure]:
    """One step (on its own fresh database if it needs one); a failure becomes a FAILED row."""
    began = time.perf_counter()
    try:
        if needs_database:
            with fresh_database(admin_url) as url:
                figures = step(bench_settings(url, NO_KAFKA, 1))
        else:
            figures = step(bench_settings(admin_url, NO_KAFKA, 1))
    except Exception as error:
        traceback.print_exc()
        name = getattr(step, "func", step).__name__
        return [Figure("error", name, None, "", {"error": f"{type(error).__name__}: {error}"})]
    for figure in figures:
        console.log(f"{figure.section}: {figure.name}: {figure.value} {figure.unit}")
    console.log(f"  ({time.perf_counter() - began:.1f} s)")
    return figures


def _env_url() -> bool:
    return bool(os.environ.get("JALUR_BENCH_DATABASE_URL"))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    logging.getLogger("bench").setLevel(logging.INFO)
    interrupt_once()
    began = time.perf_counter()
    try:
        with ExitStack() as stack:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="jalur-bench-")))
            admin_url = stack.enter_context(postgres_admin_url(tmp))
            machine = machine_facts(admin_url)
            machine["packages"] |= {p: version(p) for p in ("argon2-cffi", "cryptography")}
            figures = [
                f for need, step in measurements(args) for f in measure(step, need, admin_url)
            ]
    except KeyboardInterrupt:
        console.print("[red]interrupted[/red]: databases dropped")
        return 130
    defaults = Settings()
    parameters = {
        **{k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "postgres": "JALUR_BENCH_DATABASE_URL" if _env_url() else "embedded",
        "argon2_default": {
            "t": defaults.argon2_time_cost,
            "m_kib": defaults.argon2_memory_kib,
            "p": defaults.argon2_parallelism,
        },
        "argon2_owasp_minimum": {"t": 2, "m_kib": 19456, "p": 1},
        "db_pool_size": defaults.db_pool_size,
        "wall_seconds": round(time.perf_counter() - began, 1),
        "loadavg_at_end": os.getloadavg(),  # other work on the machine skews every figure
    }
    out = args.out or RESULTS / f"accounts-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    print_table(figures, console, "accounts")
    write_json(out, parameters, machine, figures, "accounts")
    console.print(f"wrote {out}")
    return 1 if any(figure.value is None for figure in figures) else 0


if __name__ == "__main__":
    sys.exit(main())

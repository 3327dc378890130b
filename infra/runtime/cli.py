"""The `jalur` command: start the whole system or any one process, and operator tasks."""

import logging
import sys
import threading
from typing import Annotated
from uuid import UUID

import psycopg
import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from infra.runtime.stopping import stop_on_signals
from infra.settings import Settings

cli = typer.Typer(no_args_is_help=True, help="Jalur: the courier's event-sourced backend.")
keys_cli = typer.Typer(no_args_is_help=True, help="Device API keys for hub scanners and couriers.")
projections_cli = typer.Typer(no_args_is_help=True, help="Read models.")
users_cli = typer.Typer(no_args_is_help=True, help="Staff accounts.")
relay_cli = typer.Typer(help="The outbox relay: run it, or verify what it published.")
cli.add_typer(keys_cli, name="keys")
cli.add_typer(users_cli, name="users")
cli.add_typer(projections_cli, name="projections")
cli.add_typer(relay_cli, name="relay")
console = Console()


@cli.command()
def up() -> None:
    """Start everything: embedded PostgreSQL and broker unless configured, API, relay, consumers."""
    from infra.runtime.supervisor import up as run_up

    run_up(Settings())


@cli.command()
def api() -> None:
    """Serve the HTTP API over HTTPS."""
    from infra.runtime.tls import ensure_certificate, serve_https

    settings = Settings()
    cert, key = settings.tls_cert, settings.tls_key
    if cert is None or key is None:
        cert, key = ensure_certificate(settings.state_dir)
    serve_https(
        "infra.runtime.web_app:from_environment",
        settings.api_host,
        settings.api_port,
        cert,
        key,
        trusted_proxies=settings.trusted_proxies,
    )


@relay_cli.callback(invoke_without_command=True)
def relay(context: typer.Context) -> None:
    """Publish every stored event to Kafka (one active relay per application)."""
    if context.invoked_subcommand is not None:
        return
    from infra.messaging.relay import Relay
    from infra.runtime.bootstrap import build_applications
    from infra.runtime.threads import run_all

    settings = Settings()
    stop = stop_on_signals()
    apps = build_applications(settings)
    run_all([Relay(app, settings).run for app in apps.all], stop)


@relay_cli.command("verify")
def relay_verify(
    context: Annotated[
        str | None, typer.Argument(help="shipments, accounts; all if left out.")
    ] = None,
) -> None:
    """Check that the topics hold every event the relay published, in order, on the right
    partition with the right key; exit 1 on any missing, misplaced or reordered event."""
    from infra.messaging.relay_verify import verify_relay
    from infra.runtime.bootstrap import build_applications

    settings = Settings()
    apps = build_applications(settings)
    chosen = [app for app in apps.all if context in (None, app.name)]
    if not chosen:
        raise typer.BadParameter(f"no application named {context}")
    clean = True
    with psycopg.connect(settings.require_database_url(), autocommit=True) as conn:
        for app in chosen:
            report = verify_relay(app, settings, conn)
            clean &= report.clean
            for finding in report.findings[:50]:
                console.print(f"{app.name}: {finding}")
            console.print(
                f"{app.name}: {report.stored} stored, {report.acknowledged} acknowledged by the "
                f"broker, {report.copies_checked} copies checked, "
                + ("clean" if report.clean else f"{len(report.findings)} problem(s)"),
                soft_wrap=True,
            )
    apps.close()
    if not clean:
        raise typer.Exit(1)


@cli.command()
def consume(name: str) -> None:
    """Run one projection consumer (scale out by starting more); `mail` also sends the mail."""
    from collections.abc import Callable

    from consumers.mail_sender import MailSender
    from consumers.registry import projection
    from consumers.runner import ProjectionRunner
    from infra.mail import transport_for
    from infra.runtime.bootstrap import build_applications
    from infra.runtime.threads import run_all
    from projections import mail

    settings = Settings()
    stop = stop_on_signals()
    chosen = projection(name)
    apps = build_applications(settings)
    loops: list[Callable[[threading.Event], None]] = [ProjectionRunner(chosen, settings).run]
    if chosen.NAME == mail.NAME:
        loops.append(MailSender(settings, apps.keyring, transport_for(settings)).run)
    try:
        run_all(loops, stop)
    finally:
        apps.close()


@keys_cli.command("create")
def keys_create(
    hub: Annotated[str, typer.Option(help="Hub code, e.g. CGK10000.")],
    label: Annotated[str, typer.Option(help="What the key is for.")] = "",
    courier: Annotated[
        str | None, typer.Option(help="User id of the hub's courier who scans with this key.")
    ] = None,
) -> None:
    """Create a device key; the secret is printed once and never stored."""
    from infra.postgres.device_keys import create_key

    with _connect() as conn:
        account = _account(conn, courier) if courier else None
        try:
            key_id, secret = create_key(conn, hub, label, account)
        except ValueError as error:
            console.print(f"refused: {error}")
            raise typer.Exit(1) from None
    console.print(f"key id: {key_id}\nsecret: {secret}\n(store the secret now; it is not kept)")


@keys_cli.command("list")
def keys_list() -> None:
    """List device keys (never their secrets)."""
    from infra.postgres.device_keys import list_keys

    table = Table("key id", "hub", "courier account", "label", "created", "revoked")
    with _connect() as conn:
        for key in list_keys(conn):
            table.add_row(
                key.key_id,
                key.hub_code,
                str(key.courier or ""),
                key.label,
                str(key.created_at),
                str(key.revoked_at or ""),
            )
    console.print(table)


@keys_cli.command("revoke")
def keys_revoke(key_id: str) -> None:
    """Revoke a device key at once."""
    from infra.postgres.device_keys import revoke_key

    with _connect() as conn:
        if not revoke_key(conn, key_id):
            raise typer.Exit(f"no active key {key_id}")  # type: ignore[arg-type]
    console.print(f"revoked {key_id}")


@projections_cli.command("rebuild")
def projections_rebuild(name: str) -> None:
    """Rebuild a read model from the start beside the live one, then switch readers over."""
    from consumers.rebuild import rebuild
    from consumers.registry import projection
    from infra.runtime.bootstrap import build_applications

    settings = Settings()
    build_applications(settings)
    stop = stop_on_signals()
    with Progress(console=console) as progress:
        task = progress.add_task(f"rebuilding {name}", total=None)
        generation = rebuild(
            projection(name),
            settings,
            stop,
            lambda done, total: progress.update(task, completed=done, total=total),
        )
    console.print(f"{name}: generation {generation} is live")


@projections_cli.command("verify")
def projections_verify(name: str) -> None:
    """Replay the event store into a scratch schema and compare it with the live read model."""
    from consumers.registry import projection
    from consumers.verify import verify
    from infra.runtime.bootstrap import build_applications

    settings = Settings()
    apps = build_applications(settings)
    with psycopg.connect(settings.require_database_url(), autocommit=True) as conn:
        differences = verify(conn, projection(name), apps.all)
    for difference in differences:
        console.print(
            f"{difference.table}: {difference.missing} row(s) missing, "
            f"{difference.unexpected} unexpected"
        )
    if differences:
        raise typer.Exit(1)
    console.print(f"{name} equals a fresh replay of the event store")


@users_cli.command("record-links")
def record_links() -> None:
    """Upgrade step (run once after issue 14): record the parcels linked to accounts before
    links were recorded, so erasure shreds them; shred those of accounts already erased."""
    from infra.runtime.bootstrap import bootstrap

    container = bootstrap(Settings())
    try:
        recorded, shredded = container.party_links.record_earlier_links()
    finally:
        container.close()
    console.print(f"recorded {recorded} linked parties; shredded {shredded} of erased accounts")


@users_cli.command("create")
def users_create(
    role: Annotated[
        str, typer.Option(help="courier, hub_operator, auditor or admin (customers register).")
    ],
    user_id: Annotated[str, typer.Option("--user-id", help="The sign-in name.")],
    hub: Annotated[
        str | None, typer.Option(help="Couriers' and hub operators' hub, e.g. CGK10000.")
    ] = None,
) -> None:
    """Create a staff account. The password is read from standard input, one line."""
    from datetime import UTC, datetime

    from commands.accounts.staff import create_staff
    from domain.accounts import Role
    from domain.errors import DomainError
    from infra.runtime.bootstrap import bootstrap

    password = sys.stdin.readline().rstrip("\r\n")
    container = bootstrap(Settings())
    try:
        account_id = create_staff(
            container.identity, Role(role), user_id, password, datetime.now(UTC), hub=hub
        )
    except (DomainError, ValueError) as error:
        console.print(f"refused: {getattr(error, 'message', error)}")
        raise typer.Exit(1) from None
    finally:
        container.close()
    console.print(f"created {role} {user_id} (account {account_id})")


@users_cli.command("reset-password")
def users_reset_password(
    user_id: Annotated[str, typer.Argument(help="The staff member's user id.")],
    reset_mfa: Annotated[
        bool, typer.Option("--reset-mfa", help="Also remove their second factor (a lost phone).")
    ] = False,
) -> None:
    """Give a staff account a new one-time password (printed once): every session of it
    ends, and it must be changed at the next sign-in, within the hours it is valid."""
    from datetime import UTC, datetime

    from commands.accounts.staff import issue_one_time_password
    from domain.errors import DomainError
    from infra.runtime.bootstrap import bootstrap

    settings = Settings()
    container = bootstrap(settings)
    try:
        password = issue_one_time_password(
            container.identity, user_id, datetime.now(UTC), reset_mfa=reset_mfa
        )
    except DomainError as error:
        console.print(f"refused: {error.message}")
        raise typer.Exit(1) from None
    finally:
        container.close()
    hours = settings.one_time_password_hours
    console.print(f"one-time password for {user_id} (valid {hours} h): {password}")


@users_cli.command("assign-hub")
def users_assign_hub(
    user_id: Annotated[str, typer.Option("--user-id", help="A courier's or hub operator's.")],
    hub: Annotated[str, typer.Option(help="Hub code, e.g. CGK10000.")],
) -> None:
    """Give a courier or hub operator their hub (staff made before hubs have none)."""
    from datetime import UTC, datetime

    from commands.accounts.staff import assign_hub
    from domain.errors import DomainError
    from infra.runtime.bootstrap import bootstrap

    with _connect() as conn:
        account = _account(conn, user_id)
    container = bootstrap(Settings())
    try:
        assign_hub(container.identity, account, hub, datetime.now(UTC))
    except DomainError as error:
        console.print(f"refused: {error.message}")
        raise typer.Exit(1) from None
    finally:
        container.close()
    console.print(f"{user_id} belongs to hub {hub}")


def _account(conn: psycopg.Connection[tuple[object, ...]], user_id: str) -> UUID:
    """The account of a user id, found by its blind index (the master key is needed)."""
    from domain.accounts import normalise_user_id
    from infra.postgres import credentials
    from infra.runtime.bootstrap import build_applications

    apps = build_applications(Settings())
    try:
        user_key = apps.keyring.blind("user", normalise_user_id(user_id))
    finally:
        apps.close()
    found = credentials.by_user_key(conn, user_key)
    if found is None:
        console.print(f"refused: no account {user_id!r}")
        raise typer.Exit(1)
    return found.account_id


def _connect() -> psycopg.Connection[tuple[object, ...]]:
    from infra.postgres.schema import create_tables

    conn = psycopg.connect(Settings().require_database_url(), autocommit=True)
    create_tables(conn)
    return conn


def main() -> None:
    logging.basicConfig(
        level=Settings().log_level,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("eventsourcing").setLevel(logging.WARNING)
    cli()


if __name__ == "__main__":
    main()

"""The composition root: builds every application and pool from a Settings object."""

import threading
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.application import Application
from psycopg import sql
from psycopg_pool import ConnectionPool

from commands.accounts.application import Accounts
from commands.accounts.identity import Identity
from commands.accounts.signin import SignIn
from commands.party_links import PartyLinks
from commands.shipments import Shipments
from commands.writes import Written
from consumers import generations
from consumers.registry import PROJECTIONS
from infra.messaging.partitioning import token_for
from infra.postgres.connections import eventsourcing_env, make_pool, migration_lock
from infra.postgres.schema import create_tables
from infra.postgres.throttle import LoginThrottle
from infra.security.keyring import Keyring
from infra.security.passwords import Passwords
from infra.settings import Settings


@dataclass
class Applications:
    shipments: Shipments
    accounts: Accounts
    keyring: Keyring
    key_pool: ConnectionPool

    @property
    def all(self) -> list[Application[UUID]]:
        return [self.shipments, self.accounts]

    def close(self) -> None:
        for app in self.all:
            app.close()
        self.key_pool.close()


@dataclass
class Container:
    settings: Settings
    apps: Applications
    pool: ConnectionPool
    consistency_waiters: threading.BoundedSemaphore
    identity: Identity
    signin: SignIn

    @property
    def party_links(self) -> PartyLinks:
        return self.identity.links

    @property
    def shipments(self) -> Shipments:
        return self.apps.shipments

    @property
    def accounts(self) -> Accounts:
        return self.apps.accounts

    @property
    def keyring(self) -> Keyring:
        return self.apps.keyring

    @property
    def applications(self) -> list[Application[UUID]]:
        return self.apps.all

    def consistency_token(self, context: str, written: Written) -> str:
        """The token a client sends back to read its own write from `context`'s models."""
        return token_for(context, written, self.settings.kafka_partitions)

    def close(self) -> None:
        self.pool.close()
        self.apps.close()


def build_applications(settings: Settings) -> Applications:
    """Construct the applications (creating their tables under the migration lock)."""
    url = settings.require_database_url()
    master_key = settings.require_master_key()
    with migration_lock(url) as conn:
        create_tables(conn)
        for schema in (Shipments.name, Accounts.name):
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        key_pool = make_pool(url, 4, "jalur-keys")
        keyring = Keyring(key_pool, master_key)
        shipments = Shipments(env=eventsourcing_env(url, Shipments.name), sealer=keyring)
        accounts = Accounts(env=eventsourcing_env(url, Accounts.name))
        for projection in PROJECTIONS.values():
            generations.ensure_generation(conn, projection)
    return Applications(shipments, accounts, keyring, key_pool)


def bootstrap(settings: Settings) -> Container:
    apps = build_applications(settings)
    pool = make_pool(settings.require_database_url(), settings.db_pool_size, "jalur-api")
    waiters = threading.BoundedSemaphore(settings.consistency_max_waiters)
    links = PartyLinks(pool, apps.keyring, apps.shipments)
    identity = Identity(apps.accounts, apps.keyring, pool, Passwords(settings), links)
    signin = SignIn(identity, LoginThrottle(pool), pool, settings)
    return Container(settings, apps, pool, waiters, identity, signin)

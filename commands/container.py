"""What the API and the runtime share: the applications and the use cases built around
them for one process. The runtime's composition root (infra/runtime/bootstrap.py) builds
it; the API receives it and never builds one."""

from dataclasses import dataclass
from uuid import UUID

from eventsourcing.application import Application
from psycopg_pool import ConnectionPool

from commands.accounts.application import Accounts
from commands.accounts.identity import Identity
from commands.accounts.signin import SignIn
from commands.party_links import PartyLinks
from commands.rate_limits import RateLimits
from commands.shipments import Shipments
from commands.wait_slots import WaitSlots
from commands.writes import Written
from infra.messaging.partitioning import token_for
from infra.postgres.device_key_cache import DeviceKeyCache
from infra.security.keyring import Keyring
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
    consistency_waiters: WaitSlots
    identity: Identity
    signin: SignIn
    device_keys: DeviceKeyCache
    rate_limits: RateLimits

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
        self.device_keys.close()
        self.pool.close()
        self.apps.close()

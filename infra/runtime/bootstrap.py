"""The composition root: builds every application and pool from a Settings object."""

from psycopg import sql

from commands.accounts.application import Accounts
from commands.accounts.identity import Identity
from commands.accounts.signin import SignIn
from commands.container import Applications, Container
from commands.party_links import PartyLinks
from commands.rate_limits import RateLimits
from commands.shipments import Shipments
from commands.wait_slots import WaitSlots
from consumers import generations
from consumers.registry import PROJECTIONS
from infra.postgres.connections import eventsourcing_env, make_pool, migration_lock
from infra.postgres.device_key_cache import DeviceKeyCache
from infra.postgres.rate_limits import RateBuckets
from infra.postgres.schema import create_tables
from infra.postgres.throttle import LoginThrottle
from infra.security.keyring import Keyring
from infra.security.passwords import Passwords
from infra.settings import Settings


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
    waiters = WaitSlots(settings.consistency_max_waiters, settings.consistency_waits_per_client)
    links = PartyLinks(pool, apps.keyring, apps.shipments)
    identity = Identity(apps.accounts, apps.keyring, pool, Passwords(settings), links)
    signin = SignIn(identity, LoginThrottle(pool), pool, settings)
    keys = DeviceKeyCache(settings.require_database_url())
    limits = RateLimits(RateBuckets(pool), settings)
    return Container(settings, apps, pool, waiters, identity, signin, keys, limits)

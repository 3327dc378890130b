"""The composition root: builds every application and pool from a Settings object."""

import threading
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.application import Application
from psycopg_pool import ConnectionPool

from commands.shipments import Shipments
from consumers import generations
from consumers.registry import PROJECTIONS
from infra.db import eventsourcing_env, make_pool, migration_lock
from infra.schema import create_tables
from infra.settings import Settings


@dataclass
class Container:
    settings: Settings
    shipments: Shipments
    pool: ConnectionPool
    consistency_waiters: threading.BoundedSemaphore

    @property
    def applications(self) -> list[Application[UUID]]:
        return [self.shipments]

    def close(self) -> None:
        self.pool.close()
        for app in self.applications:
            app.close()


def build_applications(settings: Settings) -> Shipments:
    """Construct the applications (creating their tables under the migration lock)."""
    url = settings.require_database_url()
    with migration_lock(url) as conn:
        create_tables(conn)
        shipments = Shipments(env=eventsourcing_env(url))
        for projection in PROJECTIONS.values():
            generations.ensure_generation(conn, projection)
    return shipments


def bootstrap(settings: Settings) -> Container:
    shipments = build_applications(settings)
    pool = make_pool(settings.require_database_url(), settings.db_pool_size, "jalur-api")
    waiters = threading.BoundedSemaphore(settings.consistency_max_waiters)
    return Container(settings, shipments, pool, waiters)

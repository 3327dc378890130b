"""PostgreSQL plumbing: connection settings, pools, and the tables infra owns."""

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

MIGRATION_LOCK = 7_362_901  # advisory lock id serialising DDL across processes

INFRA_DDL = (
    """CREATE TABLE IF NOT EXISTS api_keys (
        key_id text PRIMARY KEY,
        key_hash bytea NOT NULL UNIQUE,
        hub_code text NOT NULL,
        label text NOT NULL DEFAULT '',
        created_at timestamptz NOT NULL DEFAULT now(),
        revoked_at timestamptz
    )""",
    # A courier's device: the courier is who scans with it (domain/custody.py).
    "ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS courier_account uuid",
    """CREATE TABLE IF NOT EXISTS relay_positions (
        application text PRIMARY KEY,
        notification_id bigint NOT NULL,
        broker_marker bigint NOT NULL,
        partition_heads bigint[] NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS projection_generations (
        projection text PRIMARY KEY,
        active integer NOT NULL
    )""",
)


def eventsourcing_env(database_url: str, schema: str) -> dict[str, str]:
    """The eventsourcing library's settings for one application on this server. Each
    application has its own schema: eventsourcing names its insert function after the id
    type only, so two applications in one schema would share (and misdirect) it."""
    params = conninfo_to_dict(database_url)
    return {
        "POSTGRES_SCHEMA": schema,
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": str(params.get("dbname", "postgres")),
        "POSTGRES_HOST": str(params.get("host", "127.0.0.1")),
        "POSTGRES_PORT": str(params.get("port", "5432")),
        "POSTGRES_USER": str(params.get("user", "postgres")),
        "POSTGRES_PASSWORD": str(params.get("password", "")),
        "POSTGRES_ENABLE_DB_FUNCTIONS": "y",
        "APPLICATION_RECORDER_TOPIC": "infra.postgres.event_store:CommitOrderedRecorder",
        "POSTGRES_LOCK_TIMEOUT": "10",
        # One connection kept open per application and process, more opened on demand:
        # the library's default keeps five open, and a whole system of processes then
        # exhausted a server's 100 connections while idle.
        "POSTGRES_POOL_SIZE": "1",
        "POSTGRES_MAX_OVERFLOW": "9",
        "AGGREGATE_CACHE_MAXSIZE": "10000",
    }


def make_pool(database_url: str, size: int, name: str) -> ConnectionPool:
    pool = ConnectionPool(
        database_url, min_size=1, max_size=size, name=name, open=False, kwargs={"autocommit": True}
    )
    pool.open(wait=True, timeout=30)
    return pool


@contextmanager
def migration_lock(database_url: str) -> Iterator[psycopg.Connection]:
    """Hold a session-wide lock while tables are created, so processes never race on DDL."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        try:
            yield conn
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))

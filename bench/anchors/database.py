"""What both anchors do with their database: create their one table, and keep an
AsyncConnectionPool open for the app's lifetime."""

import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import psycopg
from fastapi import FastAPI
from psycopg_pool import AsyncConnectionPool

POOL_SIZE = 10


def pool_with_table(
    ddl: str,
) -> tuple[AsyncConnectionPool, Callable[[FastAPI], AbstractAsyncContextManager[None]]]:
    """The pool on ANCHOR_DATABASE_URL (its table created now) and the app lifespan that
    opens and closes it."""
    database_url = os.environ["ANCHOR_DATABASE_URL"]
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(ddl)
    pool = AsyncConnectionPool(database_url, min_size=POOL_SIZE, open=False)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await pool.open(wait=True)
        yield
        await pool.close()

    return pool, lifespan

"""An asynchronous connection pool for public reads that need neither a worker thread nor
the shared pool, opened and closed with the app (api/app.py's lifespan)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from psycopg_pool import AsyncConnectionPool

from commands.container import Container


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    container: Container = app.state.container
    settings = container.settings
    pool = AsyncConnectionPool(
        settings.require_database_url(),
        min_size=1,
        max_size=settings.read_pool_size,
        kwargs={"autocommit": True},
        open=False,
    )
    await pool.open()
    app.state.read_pool = pool
    try:
        yield
    finally:
        await pool.close()


def read_pool(request: Request) -> AsyncConnectionPool:
    pool: AsyncConnectionPool = request.app.state.read_pool
    return pool

"""Anchor for single scans: the simplest FastAPI service doing the same storage work.

POST /v1/shipments/{awb}/scans validates a body shaped like Jalur's ScanIn, INSERTs one
row, commits, and answers 201. psycopg's AsyncConnectionPool on the event loop: no
threadpool hop per request (the faster of the two simple choices, see bench/README.md).
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated
from uuid import UUID

import psycopg
from fastapi import FastAPI
from psycopg_pool import AsyncConnectionPool
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

POOL_SIZE = 10
DDL = """CREATE TABLE IF NOT EXISTS anchor_scans (
    scan_id uuid PRIMARY KEY,
    awb text NOT NULL,
    code text NOT NULL,
    scanned_at timestamptz NOT NULL,
    location text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
)"""
INSERT = """INSERT INTO anchor_scans (scan_id, awb, code, scanned_at, location)
            VALUES (%s, %s, %s, %s, %s)"""
AreaCode = Annotated[str, Field(pattern=r"^[A-Z]{3}[0-9]{5}$")]


class ScanIn(BaseModel):
    """Jalur's ScanIn, field for field (api/shipment_models.py)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    scan_id: UUID
    code: str = Field(pattern=r"^[A-Z0-9]{3}$")
    scanned_at: AwareDatetime
    location: AreaCode
    recipient_name: str | None = Field(default=None, min_length=1, max_length=100)
    recipient_relationship: str | None = Field(default=None, min_length=1, max_length=50)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)


class ScanOut(BaseModel):
    awb: str
    scan_id: UUID
    recorded: bool


def create_app() -> FastAPI:
    database_url = os.environ["ANCHOR_DATABASE_URL"]
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(DDL)
    pool = AsyncConnectionPool(database_url, min_size=POOL_SIZE, open=False)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await pool.open(wait=True)
        yield
        await pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.post("/v1/shipments/{awb}/scans", status_code=201)
    async def record_scan(awb: str, body: ScanIn) -> ScanOut:
        async with pool.connection() as conn:  # commits on leaving the block
            await conn.execute(
                INSERT, (body.scan_id, awb, body.code, body.scanned_at, body.location)
            )
        return ScanOut(awb=awb, scan_id=body.scan_id, recorded=True)

    return app

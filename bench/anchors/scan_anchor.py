"""Anchor for single scans: the simplest FastAPI service doing the same storage work.

POST /v1/shipments/{awb}/scans validates the body with Jalur's own ScanIn, INSERTs one
row, commits, and answers 201. psycopg's AsyncConnectionPool on the event loop: no
threadpool hop per request (the faster of the two simple choices, see bench/README.md).
"""

from database import pool_with_table
from fastapi import FastAPI

from api.shipment_models import ScanIn, ScanOut

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


def create_app() -> FastAPI:
    pool, lifespan = pool_with_table(DDL)
    app = FastAPI(lifespan=lifespan)

    @app.post("/v1/shipments/{awb}/scans", status_code=201)
    async def record_scan(awb: str, body: ScanIn) -> ScanOut:
        async with pool.connection() as conn:  # commits on leaving the block
            await conn.execute(
                INSERT, (body.scan_id, awb, body.code, body.scanned_at, body.location)
            )
        return ScanOut(awb=awb, scan_id=body.scan_id, recorded=True)

    return app

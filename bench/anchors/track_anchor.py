"""Anchor for public tracking: the simplest FastAPI service doing the same read.

GET /v1/track/{awb} answers one JSON document found by one indexed SELECT (psycopg's
AsyncConnectionPool). The bench fills the table with Jalur's own answers for the same
waybills, so both sides send the same bytes.
"""

from database import pool_with_table
from fastapi import FastAPI, HTTPException, Response

DDL = "CREATE TABLE IF NOT EXISTS anchor_tracking (awb text PRIMARY KEY, document jsonb NOT NULL)"
SELECT = "SELECT document::text FROM anchor_tracking WHERE awb = %s"


def create_app() -> FastAPI:
    pool, lifespan = pool_with_table(DDL)
    app = FastAPI(lifespan=lifespan)

    @app.get("/v1/track/{awb}")
    async def track(awb: str) -> Response:
        async with pool.connection() as conn:
            row = await (await conn.execute(SELECT, (awb,))).fetchone()
        if row is None:
            raise HTTPException(404, "not found")
        return Response(row[0], media_type="application/json")

    return app

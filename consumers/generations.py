"""Generations of a read model: each lives in its own schema (`tracking_g2`), and
public views (`tracking_shipments`) point at the active one. Switching is one
transaction, so readers never see a half-built model.
"""

from typing import Any

import psycopg
from psycopg import sql

from consumers.registry import Projection

POSITIONS_DDL = """CREATE TABLE positions (
    topic text NOT NULL,
    partition integer NOT NULL,
    notification_id bigint NOT NULL,
    PRIMARY KEY (topic, partition)
)"""


def schema_name(projection: Projection, generation: int) -> str:
    return f"{projection.NAME}_g{generation}"


def active_generation(conn: psycopg.Connection[Any], projection: Projection) -> int | None:
    row = conn.execute(
        "SELECT active FROM projection_generations WHERE projection = %s", (projection.NAME,)
    ).fetchone()
    return int(row[0]) if row else None


def create_generation(conn: psycopg.Connection[Any], projection: Projection) -> int:
    """Create the next generation's empty tables; it is not yet visible to readers."""
    prefix = f"{projection.NAME}_g"
    row = conn.execute(
        """SELECT coalesce(max(substr(nspname, %s)::int), 0) FROM pg_namespace
           WHERE nspname LIKE %s AND substr(nspname, %s) ~ '^[0-9]+$'""",
        (len(prefix) + 1, prefix + "%", len(prefix) + 1),
    ).fetchone()
    generation = int(row[0]) + 1 if row else 1
    schema = sql.Identifier(schema_name(projection, generation))
    with conn.transaction():
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(schema))
        conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(schema))
        for statement in (*projection.DDL, POSITIONS_DDL):
            conn.execute(statement)
    return generation


def activate_if_caught_up(
    conn: psycopg.Connection[Any], projection: Projection, generation: int, live: int
) -> bool:
    """Point the public views at `generation` only if it has applied at least what the
    live one has, so readers never see history go back. The live positions table is
    locked against writes for the check and the switch (readers are not blocked), so the
    live runner cannot apply anything between the two."""
    with conn.transaction():
        conn.execute(
            sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(
                sql.Identifier(schema_name(projection, live), "positions")
            )
        )
        reached = positions(conn, projection, generation)
        behind = [k for k, v in positions(conn, projection, live).items() if reached.get(k, 0) < v]
        if behind:
            return False
        activate(conn, projection, generation)
    return True


def activate(conn: psycopg.Connection[Any], projection: Projection, generation: int) -> None:
    """Point the public views at a generation, atomically."""
    schema = schema_name(projection, generation)
    with conn.transaction():
        for table in (*projection.TABLES, "positions"):
            view = sql.Identifier(f"{projection.NAME}_{table}")
            conn.execute(sql.SQL("DROP VIEW IF EXISTS {}").format(view))
            conn.execute(
                sql.SQL("CREATE VIEW {} AS SELECT * FROM {}").format(
                    view, sql.Identifier(schema, table)
                )
            )
        conn.execute(
            """INSERT INTO projection_generations (projection, active) VALUES (%s, %s)
               ON CONFLICT (projection) DO UPDATE SET active = EXCLUDED.active""",
            (projection.NAME, generation),
        )


def ensure_generation(conn: psycopg.Connection[Any], projection: Projection) -> int:
    """The active generation, creating and activating the first one if there is none."""
    generation = active_generation(conn, projection)
    if generation is None:
        generation = create_generation(conn, projection)
        activate(conn, projection, generation)
    return generation


def drop_generations_before(
    conn: psycopg.Connection[Any], projection: Projection, generation: int
) -> None:
    for old in range(1, generation):
        schema = sql.Identifier(schema_name(projection, old))
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(schema))


def positions(
    conn: psycopg.Connection[Any], projection: Projection, generation: int
) -> dict[tuple[str, int], int]:
    """The highest notification id applied per (topic, partition) by a generation."""
    schema = sql.Identifier(schema_name(projection, generation))
    rows = conn.execute(
        sql.SQL("SELECT topic, partition, notification_id FROM {}.positions").format(schema)
    ).fetchall()
    return {(topic, partition): nid for topic, partition, nid in rows}

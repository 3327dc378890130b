"""Check a live read model against a fresh replay of the event store.

The replay folds every stored event through the same projection, straight from
PostgreSQL (no Kafka), into a scratch schema; the two are compared row by row,
counting duplicates (EXCEPT ALL). Operators and auditors run it with
`jalur projections verify NAME`; the crash tests use it as their oracle.
"""

from dataclasses import dataclass
from typing import Any, cast

import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import DomainEvent
from psycopg import sql

from consumers import generations
from consumers.registry import Projection, rebuildable
from domain.public import to_public

PAGE = 1000


@dataclass(frozen=True)
class Difference:
    table: str
    missing: int  # rows the replay has and the live model lacks
    unexpected: int  # rows the live model has and the replay lacks (duplicates included)


def replay(
    conn: psycopg.Connection[Any], projection: Projection, apps: list[Application[Any]], schema: str
) -> int:
    """Fold every stored event into fresh tables in `schema`; return the events applied."""
    applied = 0
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
        cur.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        cur.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(schema)))
        for statement in projection.DDL:
            cur.execute(statement)
        for app in (a for a in apps if a.name in projection.CONTEXTS):
            start = 1
            while notifications := app.recorder.select_notifications(start=start, limit=PAGE):
                for notification in notifications:
                    event = cast(DomainEvent, app.mapper.to_domain_event(notification))
                    projection.apply(to_public(event), cur)
                    applied += 1
                start = notifications[-1].id + 1
    return applied


def compare(
    conn: psycopg.Connection[Any], projection: Projection, live_schema: str, reference_schema: str
) -> list[Difference]:
    """Differences per table; an empty list means the live model equals the replay."""
    differences = []
    for table in projection.TABLES:
        live, reference = (
            sql.Identifier(live_schema, table),
            sql.Identifier(reference_schema, table),
        )
        missing = _count_except(conn, reference, live)
        unexpected = _count_except(conn, live, reference)
        if missing or unexpected:
            differences.append(Difference(table, missing, unexpected))
    return differences


def verify(
    conn: psycopg.Connection[Any], projection: Projection, apps: list[Application[Any]]
) -> list[Difference]:
    """Replay into `<name>_verify` and compare with the active generation."""
    if not rebuildable(projection):
        raise SystemExit(
            f"{projection.NAME} cannot be verified by a replay: its rows record side effects "
            "(e-mails sent), which a replay does not perform"
        )
    live = generations.active_generation(conn, projection)
    if live is None:
        raise SystemExit(f"{projection.NAME} has no active generation yet")
    reference = f"{projection.NAME}_verify"
    replay(conn, projection, apps, reference)
    try:
        return compare(conn, projection, generations.schema_name(projection, live), reference)
    finally:
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(reference)))


def _count_except(
    conn: psycopg.Connection[Any], left: sql.Identifier, right: sql.Identifier
) -> int:
    query = sql.SQL(
        "SELECT count(*) FROM (SELECT * FROM {} EXCEPT ALL SELECT * FROM {}) AS difference"
    ).format(left, right)
    row = conn.execute(query).fetchone()
    return int(row[0]) if row else 0

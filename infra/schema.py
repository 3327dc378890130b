"""Every table infra owns, in creation order (run under the migration lock)."""

from typing import Any

from psycopg import Connection

from infra import credentials, crypto, db, party_links, publications, sessions, throttle, tokens

DDL: tuple[str, ...] = (
    *db.INFRA_DDL,
    *publications.DDL,
    *crypto.DDL,
    *credentials.DDL,
    *tokens.DDL,
    *sessions.DDL,
    *throttle.DDL,
    *party_links.DDL,
)


def create_tables(conn: Connection[Any]) -> None:
    for statement in DDL:
        conn.execute(statement)

"""Every table infra owns, in creation order (run under the migration lock)."""

from typing import Any

from psycopg import Connection

from infra import credentials, crypto, db, tokens

DDL: tuple[str, ...] = (*db.INFRA_DDL, *crypto.DDL, *credentials.DDL, *tokens.DDL)


def create_tables(conn: Connection[Any]) -> None:
    for statement in DDL:
        conn.execute(statement)

"""Every table infra owns, in creation order (run under the migration lock)."""

from typing import Any

from psycopg import Connection

from infra.postgres import (
    connections,
    credentials,
    linked_parties,
    mfa,
    publications,
    rate_limits,
    sessions,
    throttle,
    tokens,
    waiting_parties,
)
from infra.security import keyring

DDL: tuple[str, ...] = (
    *connections.INFRA_DDL,
    *publications.DDL,
    *keyring.DDL,
    *credentials.DDL,
    *tokens.DDL,
    *sessions.DDL,
    *mfa.DDL,
    *throttle.DDL,
    *rate_limits.DDL,
    *waiting_parties.DDL,
    *linked_parties.DDL,
)


def create_tables(conn: Connection[Any]) -> None:
    for statement in DDL:
        conn.execute(statement)

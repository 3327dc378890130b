"""The event store's insert path, made to commit in notification-id order.

Whoever follows a notification log reads "everything after my position". That is safe
only if no transaction can commit an id lower than one already visible. eventsourcing's
plain insert path guarantees it with an EXCLUSIVE lock on the events table; its faster
path (`POSTGRES_ENABLE_DB_FUNCTIONS`, one round trip through a PL/pgSQL function) takes no
lock, so concurrent writers draw ids in one order and commit in another, and the relay
skipped the late ones for ever. This recorder's function takes the same lock before it
draws any id. The lock is held to commit, so ids are drawn and made visible one
transaction at a time; readers (ACCESS SHARE) are never blocked by it.

Every application gets this recorder through `infra.postgres.connections.eventsourcing_env`.
"""

from collections.abc import Sequence
from uuid import UUID

from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg.sql import SQL, Composed, Identifier


class CommitOrderedRecorder(PostgresApplicationRecorder):
    def __init__(
        self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"
    ) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        statement = _insert_function(
            schema=self.datastore.schema,
            function=self.pg_function_name_insert_events,
            event_type=self.stored_event_type_name,
            table=self.events_table_name,
            channel=self.channel_name,
            lock_timeout_s=self.datastore.lock_timeout,
        )
        self.sql_create_pg_function_insert_events = statement
        self.sql_create_statements[self.create_insert_function_statement_index] = statement

    def last_notification_ids(self, originator_ids: Sequence[UUID]) -> dict[UUID, int]:
        """Where each aggregate's newest event landed in the notification log."""
        statement = SQL(
            "SELECT originator_id, max(notification_id) FROM {}.{} "
            "WHERE originator_id = ANY(%s) GROUP BY originator_id"
        ).format(Identifier(self.datastore.schema), Identifier(self.events_table_name))
        with self.datastore.get_connection() as conn, conn.cursor() as cursor:
            cursor.execute(statement, (list(originator_ids),))
            return {row["originator_id"]: row["max"] for row in cursor.fetchall()}


def _insert_function(
    *, schema: str, function: str, event_type: str, table: str, channel: str, lock_timeout_s: int
) -> Composed:
    return SQL(
        "CREATE OR REPLACE FUNCTION {schema}.{function}(events {schema}.{event_type}[]) "
        "RETURNS SETOF bigint LANGUAGE plpgsql AS $BODY$ "
        "BEGIN "
        "SET LOCAL lock_timeout = '{lock_timeout}s'; "
        "LOCK TABLE {schema}.{table} IN EXCLUSIVE MODE; "
        "NOTIFY {channel}; "
        "RETURN QUERY INSERT INTO {schema}.{table} AS t "
        "(originator_id, originator_version, topic, state) "
        "SELECT originator_id, originator_version, topic, state FROM unnest(events) "
        "RETURNING notification_id; "
        "END; $BODY$"
    ).format(
        schema=Identifier(schema),
        function=Identifier(function),
        event_type=Identifier(event_type),
        table=Identifier(table),
        channel=Identifier(channel),
        lock_timeout=SQL(str(int(lock_timeout_s))),
    )

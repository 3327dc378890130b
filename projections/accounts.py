"""The accounts read model: one row per account, one per privacy policy version.

Personal fields are stored exactly as the events carry them: sealed under the account's
own key. Only the API unseals, for the account's owner. Erasing an account destroys that
key, so the sealed columns are already noise; nulling them just keeps the table tidy.
"""

from collections.abc import Callable
from typing import Any, LiteralString

from psycopg import Cursor, sql

from domain.public import PublicEvent

NAME = "accounts"
CONTEXTS = ("accounts",)
TABLES = ("accounts", "privacy_policy_versions")
REBUILDABLE = True

DDL = (
    """CREATE TABLE accounts (
        account_id uuid PRIMARY KEY,
        role text NOT NULL,
        user_id text,
        email text,
        display_name text,
        phone text,
        privacy_policy_version integer,
        registered_at timestamptz NOT NULL,
        email_verified_at timestamptz,
        pending_email text,
        pending_change_id uuid,
        password_changed_at timestamptz,
        erased_at timestamptz,
        aggregate_version integer NOT NULL
    )""",
    """CREATE TABLE privacy_policy_versions (
        policy_version integer PRIMARY KEY,
        text text NOT NULL,
        published_at timestamptz NOT NULL
    )""",
)

REGISTER = """
INSERT INTO accounts (account_id, role, user_id, email, display_name, phone,
    privacy_policy_version, registered_at, aggregate_version)
VALUES (%(id)s, %(role)s, %(user_id)s, %(email)s, %(display_name)s, %(phone)s,
    %(privacy_policy_version)s, %(registered_at)s, %(version)s)"""

PUBLISH = """
INSERT INTO privacy_policy_versions (policy_version, text, published_at)
VALUES (%(policy_version)s, %(text)s, %(published_at)s)"""

# Every later account event sets these columns (from its data) on the account's row.
ASSIGNMENTS: dict[str, tuple[LiteralString, ...]] = {
    "AccountEmailVerified": ("email_verified_at = %(verified_at)s",),
    "AccountEmailChangeRequested": (
        "pending_email = %(new_email)s",
        "pending_change_id = %(change_id)s",
    ),
    "AccountEmailChanged": (
        "email = %(email)s",
        "email_verified_at = %(changed_at)s",
        "pending_email = NULL",
        "pending_change_id = NULL",
    ),
    "AccountEmailChangeCancelled": ("pending_email = NULL", "pending_change_id = NULL"),
    "AccountEmailChangeReverted": (
        "email = %(email)s",
        "email_verified_at = %(reverted_at)s",
        "pending_email = NULL",
        "pending_change_id = NULL",
    ),
    "AccountPasswordChanged": ("password_changed_at = %(changed_at)s",),
    "AccountPasswordResetRequested": (),
    "AccountMfaEnabled": (),
    "AccountMfaDisabled": (),
    "AccountRecoveryCodeUsed": (),
    "AccountHubAssigned": (),  # the hub is read from credentials; the event is for audit
    "AccountErased": (
        "erased_at = %(erased_at)s",
        "user_id = NULL",
        "email = NULL",
        "display_name = NULL",
        "phone = NULL",
        "pending_email = NULL",
        "pending_change_id = NULL",
    ),
}


def _update_statement(assignments: tuple[LiteralString, ...]) -> sql.Composed:
    columns = sql.SQL(", ").join(
        sql.SQL(a) for a in (*assignments, "aggregate_version = %(version)s")
    )
    return sql.SQL("UPDATE accounts SET {} WHERE account_id = %(id)s").format(columns)


UPDATES = {event_type: _update_statement(a) for event_type, a in ASSIGNMENTS.items()}


def apply(event: PublicEvent, cur: Cursor[Any]) -> None:
    handler = _HANDLERS.get(event.type)
    if handler is not None:
        handler(event, cur)
    elif event.type in UPDATES:
        cur.execute(UPDATES[event.type], _params(event))


def _registered(event: PublicEvent, cur: Cursor[Any]) -> None:
    cur.execute(REGISTER, _params(event))


def _policy_published(event: PublicEvent, cur: Cursor[Any]) -> None:
    cur.execute(PUBLISH, {**event.data, "policy_version": 1})


def _policy_revised(event: PublicEvent, cur: Cursor[Any]) -> None:
    cur.execute(PUBLISH, event.data)


def _params(event: PublicEvent) -> dict[str, Any]:
    return {**event.data, "id": event.aggregate_id, "version": event.aggregate_version}


_HANDLERS: dict[str, Callable[[PublicEvent, Cursor[Any]], None]] = {
    "AccountRegistered": _registered,
    "PrivacyPolicyPublished": _policy_published,
    "PrivacyPolicyRevised": _policy_revised,
}

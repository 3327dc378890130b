"""Read queries over the public accounts views (the active generation).

Personal fields come back sealed, as stored: the caller unseals them for their owner.
"""

from typing import Any
from uuid import UUID

from psycopg import Connection
from psycopg.rows import dict_row

PROFILE = """
SELECT account_id, role, user_id, email, display_name, phone, privacy_policy_version,
       registered_at, email_verified_at, pending_email, pending_change_id,
       password_changed_at, aggregate_version
FROM accounts_accounts WHERE account_id = %s AND erased_at IS NULL"""

CURRENT_POLICY = """
SELECT policy_version, text, published_at FROM accounts_privacy_policy_versions
ORDER BY policy_version DESC LIMIT 1"""


def profile(conn: Connection[Any], account_id: UUID) -> dict[str, Any] | None:
    """An account's row with its fields still sealed; None if unknown or erased."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(PROFILE, (account_id,)).fetchone()


def current_policy(conn: Connection[Any]) -> dict[str, Any] | None:
    """The highest published privacy policy version; None before the first one."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(CURRENT_POLICY).fetchone()


def positions(conn: Connection[Any], topic: str) -> dict[int, int]:
    rows = conn.execute(
        "SELECT partition, notification_id FROM accounts_positions WHERE topic = %s", (topic,)
    ).fetchall()
    return dict(rows)

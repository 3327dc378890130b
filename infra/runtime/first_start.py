"""What `jalur up` prepares before the children start: the master key, the privacy
policy's first version, and the first admin."""

import base64
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path

from commands.accounts.identity import Identity
from commands.accounts.privacy import default_policy_text, ensure_policy
from commands.accounts.staff import ensure_first_admin
from commands.party_links import PartyLinks
from infra.postgres.connections import make_pool
from infra.runtime.bootstrap import build_applications
from infra.security.passwords import Passwords
from infra.settings import MASTER_KEY_BYTES, Settings


def master_key(settings: Settings, state_dir: Path) -> str:
    """The configured master key, else the one kept in STATE_DIR/master.key (made once)."""
    if settings.master_key is not None:
        return settings.master_key.get_secret_value()
    path = state_dir / "master.key"
    if not path.exists():
        key = base64.urlsafe_b64encode(secrets.token_bytes(MASTER_KEY_BYTES)).decode()
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(key)
    return path.read_text().strip()


def prepare(settings: Settings) -> str | None:
    """Seed the policy and the first admin; the admin's one-time password, if just made."""
    now = datetime.now(UTC)
    apps = build_applications(settings)
    pool = make_pool(settings.require_database_url(), 2, "jalur-first-start")
    try:
        ensure_policy(apps.accounts, default_policy_text(), now)
        links = PartyLinks(pool, apps.keyring, apps.shipments)
        identity = Identity(apps.accounts, apps.keyring, pool, Passwords(settings), links)
        return ensure_first_admin(identity, now)
    finally:
        pool.close()
        apps.close()

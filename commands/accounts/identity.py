"""Accounts as people use them: register, verify, change e-mail, erase.

The accounts application records the facts (sealed); this service keeps the secrets
beside them (credentials, tokens) and the blind indexes that find an account by user id
or e-mail without storing either in clear.
"""

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from psycopg import Connection, errors
from psycopg_pool import ConnectionPool

from commands.accounts.application import Accounts
from commands.party_links import PartyLinks
from commands.writes import Written
from domain.accounts import Account, Role, check_display_name, check_user_id, normalise_email
from domain.errors import Conflict, Forbidden, NotFound, RuleViolation
from domain.passwords import check_password
from domain.shipments import data_subject
from infra.postgres import credentials, linked_parties, sessions, tokens
from infra.security.keyring import Keyring
from infra.security.passwords import Passwords

log = logging.getLogger("jalur.identity")

# How long a user id claim may stand without an account behind it before it counts as a
# crashed registration (a live one records its account within milliseconds).
CLAIM_GRACE = timedelta(minutes=5)


@dataclass(frozen=True)
class NewAccount:
    user_id: str
    email: str | None
    password: str
    display_name: str
    phone: str | None


def invalid_link() -> RuleViolation:
    return RuleViolation(
        "This link is invalid, expired or already used; ask for a new one.", code="invalid_token"
    )


def link_for_other_account() -> Forbidden:
    return Forbidden(
        "This link was sent for another account: enter that account's password.",
        code="link_for_other_account",
    )


class Identity:
    def __init__(
        self,
        accounts: Accounts,
        keyring: Keyring,
        pool: ConnectionPool,
        passwords: Passwords,
        links: PartyLinks,
    ) -> None:
        self.accounts = accounts
        self.keyring = keyring
        self.pool = pool
        self.passwords = passwords
        self.links = links

    def user_key(self, user_id: str) -> str:
        return self.keyring.blind("user", user_id)

    def email_key(self, email: str) -> str:
        return credentials.email_key(self.keyring, email)

    def register(
        self,
        new: NewAccount,
        now: datetime,
        *,
        role: Role = Role.CUSTOMER,
        active: bool = False,
        must_change_password: bool = False,
    ) -> UUID | None:
        """Register an account; None when the user id is taken (the caller must not say so)."""
        user_id = check_user_id(new.user_id)
        new = replace(new, display_name=check_display_name(new.display_name))
        check_password(new.password, user_id=user_id, email=new.email)
        password_hash = self.passwords.hash(new.password)
        account_id = self._claim_user_id(
            user_id, role, password_hash, now, active=active, must_change=must_change_password
        )
        if account_id is None:
            return None
        self._record_registration(account_id, user_id, new, role, now)
        return account_id

    def _record_registration(
        self, account_id: UUID, user_id: str, new: NewAccount, role: Role, now: datetime
    ) -> None:
        """The Registered event, personal data sealed under the account's own key."""
        sealed = self.keyring.seal(
            account_id,
            {
                "user_id": user_id,
                "email": normalise_email(new.email) if new.email else None,
                "display_name": new.display_name,
                "phone": new.phone,
            },
        )
        policy = self.accounts.policy()
        self.accounts.register(
            account_id,
            role=role.value,
            user_id=sealed["user_id"] or "",
            email=sealed["email"],
            display_name=sealed["display_name"] or "",
            phone=sealed["phone"],
            privacy_policy_version=policy.policy_version if policy else None,
            now=now,
        )

    def _claim_user_id(
        self,
        user_id: str,
        role: Role,
        password_hash: str,
        now: datetime,
        *,
        active: bool,
        must_change: bool,
    ) -> UUID | None:
        account_id, key = uuid4(), self.user_key(user_id)

        def claim(conn: Connection[Any]) -> bool:
            return credentials.claim(
                conn,
                account_id,
                key,
                role.value,
                password_hash,
                active=active,
                must_change_password=must_change,
            )

        with self.pool.connection() as conn:
            if claim(conn):
                return account_id
            existing = credentials.by_user_key(conn, key)
            if existing is None or not self._release_abandoned(conn, existing, now):
                return None
            return account_id if claim(conn) else None

    def _release_abandoned(
        self, conn: Connection[Any], existing: credentials.Credential, now: datetime
    ) -> bool:
        """Free a user id held by a registration nobody will finish, so nobody can squat it:
        one that crashed between its two writes (no account behind the claim), or an
        unverified one whose verification link has expired. True if this call released it
        (of racing registrants, one wins)."""
        registered = self.accounts.exists(existing.account_id)
        held_for = tokens.LIFETIMES[tokens.Purpose.VERIFY_EMAIL] if registered else CLAIM_GRACE
        with conn.transaction():
            if not credentials.release_if_abandoned(
                conn, existing.account_id, held_for, registered=registered
            ):
                return False
            # A registration still running past its grace can no longer seal under this id.
            self.keyring.destroy(existing.account_id, conn)
        if registered:
            self.accounts.erase(existing.account_id, now)
            log.info("an unverified registration expired and was erased")
        return True

    def link_owner(self, token: str, purpose: tokens.Purpose) -> UUID:
        """The account a live link was sent for; the link stays unused."""
        with self.pool.connection() as conn:
            found = tokens.look_up(conn, token, purpose)
        if found is None:
            raise invalid_link()
        return found.account_id

    def _redeem(self, token: str, purpose: tokens.Purpose, account_id: UUID) -> tokens.Redeemed:
        """Use the link, if it was sent for `account_id`: the caller has proved to be it."""
        if self.link_owner(token, purpose) != account_id:
            raise link_for_other_account()
        with self.pool.connection() as conn:
            redeemed = tokens.redeem(conn, token, purpose, account_id)
        if redeemed is None:
            raise invalid_link()
        return redeemed

    def verify_email(self, token: str, account_id: UUID, now: datetime) -> Written:
        """Verify the address, for the account that proved to be the one that registered
        (only then are the parcels waiting for the address linked to it)."""
        redeemed = self._redeem(token, tokens.Purpose.VERIFY_EMAIL, account_id)
        account = self.accounts.account(redeemed.account_id)
        email_key = self._verified_email_key(account.id, account.email)
        written = self.accounts.verify_email(account.id, now)
        self._set_email(account.id, email_key, activate=True)
        self.links.link_waiting(account.id, email_key)
        return written

    def request_email_change(self, account_id: UUID, new_email: str, now: datetime) -> Written:
        """Keep the new address pending until a link sent to it is followed."""
        sealed = self.keyring.seal(account_id, {"email": normalise_email(new_email)})["email"]
        return self.accounts.request_email_change(account_id, uuid4(), sealed or "", now)

    def confirm_email_change(self, token: str, account_id: UUID, now: datetime) -> Written:
        """Confirm the new address, for the account that proved to be the one that asked."""
        redeemed = self._redeem(token, tokens.Purpose.CONFIRM_EMAIL_CHANGE, account_id)
        if redeemed.payload is None:
            raise invalid_link()
        account = self.accounts.account(redeemed.account_id)
        change_id = UUID(redeemed.payload)
        if account.pending_change is None or account.pending_change[0] != change_id:
            raise invalid_link()
        email_key = self._verified_email_key(account.id, account.pending_change[1])
        written = self.accounts.confirm_email_change(account.id, change_id, now)
        self._set_email(account.id, email_key, activate=False)
        self.links.link_waiting(account.id, email_key)
        return written

    def drop_pending_email_change(self, account_id: UUID, reason: str, now: datetime) -> None:
        """Cancel a pending e-mail change and stop its confirmation links (a password reset
        or change does this: whoever asked for the change may not be the owner)."""
        with self.pool.connection() as conn:
            tokens.revoke_all(conn, account_id, tokens.Purpose.CONFIRM_EMAIL_CHANGE)
        self.accounts.drop_pending_email_change(account_id, reason, now)

    def cancel_email_change(self, token: str, now: datetime) -> Written:
        """The link in the notice to the old address: cancel the change (undo it if it was
        confirmed within EMAIL_CHANGE_UNDO), end every session, and send a password reset
        to the address the account has afterwards."""
        with self.pool.connection() as conn:
            redeemed = tokens.redeem(conn, token, tokens.Purpose.CANCEL_EMAIL_CHANGE)
        if redeemed is None or redeemed.payload is None:
            raise invalid_link()
        account_id, change_id = redeemed.account_id, UUID(redeemed.payload)
        old_email = self.accounts.account(account_id).email_before(change_id, now)
        old_key = self._verified_email_key(account_id, old_email) if old_email else None
        with self.pool.connection() as conn, conn.transaction():
            tokens.revoke_all(conn, account_id, tokens.Purpose.CONFIRM_EMAIL_CHANGE)
            # A reset link the attacker may have sent to the address they held dies too.
            tokens.revoke_all(conn, account_id, tokens.Purpose.RESET_PASSWORD)
            sessions.revoke_all(conn, account_id, now)
            sessions.forget_devices(conn, account_id)
        restored, written = self.accounts.undo_email_change(account_id, change_id, now)
        if restored is not None and old_key is not None:
            self._set_email(account_id, old_key, activate=False)
        reset = self.accounts.request_password_reset(account_id, now, urgent=True)
        log.info("an e-mail change was cancelled from the old address")
        return Written.of([], dict(written.positions) | dict(reset.positions))

    def _verified_email_key(self, account_id: UUID, sealed_email: str | None) -> str:
        email = self.keyring.unseal(sealed_email)
        if email is None:
            raise NotFound("No such account.", code="account_not_found")
        key = self.email_key(email)
        with self.pool.connection() as conn:
            owner = credentials.account_for_email(conn, key)
        if owner is not None and owner != account_id:
            raise Conflict("This e-mail address belongs to another account.", code="email_in_use")
        return key

    def _set_email(self, account_id: UUID, email_key: str, *, activate: bool) -> None:
        try:
            with self.pool.connection() as conn:
                credentials.set_email(conn, account_id, email_key, activate=activate)
        except errors.UniqueViolation:
            raise Conflict(
                "This e-mail address belongs to another account.", code="email_in_use"
            ) from None

    def erase(self, account_id: UUID, now: datetime) -> Written:
        """Erasure: record it, destroy the account's key and those of the shipment parties
        linked to it after booking, forget every credential and session."""
        written = self.accounts.erase(account_id, now)
        with self.pool.connection() as conn, conn.transaction():
            self.keyring.destroy(account_id, conn)
            for shipment_id, role in linked_parties.take_all(conn, account_id):
                self.keyring.destroy(data_subject(shipment_id, role), conn)
            credentials.delete(conn, account_id)
        log.info("an account was erased")
        return written

    def account(self, account_id: UUID) -> Account:
        return self.accounts.account(account_id)

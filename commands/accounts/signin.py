"""Signing in and everything that proves a password: login, re-authentication,
password change and reset.

Every path does the same work whether or not the account exists (the throttle is keyed
by the blind user id, an unknown account is checked against a decoy hash), so neither
the answer nor its timing tells an outsider which user ids are real.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from psycopg_pool import ConnectionPool

from commands.accounts.identity import Identity, invalid_link
from domain.accounts import normalise_user_id
from domain.errors import Forbidden, TooManyAttempts, Unauthenticated
from domain.passwords import check_password
from infra.postgres import credentials, sessions, tokens
from infra.postgres.credentials import Credential
from infra.postgres.throttle import LoginThrottle, Verdict
from infra.settings import Settings


@dataclass(frozen=True)
class Attempt:
    """A login attempt the throttle let through (perhaps after a delay)."""

    user_key: str
    client: str
    credential: Credential | None
    device_key: str | None
    verdict: Verdict


@dataclass(frozen=True)
class SignedIn:
    account_id: UUID
    role: str
    session: sessions.Issued
    device_token: str | None  # a new trusted-device token, when the device had none
    must_change_password: bool


def wrong_credentials() -> Unauthenticated:
    return Unauthenticated("The user id or password is wrong.", code="invalid_credentials")


class SignIn:
    def __init__(
        self, identity: Identity, throttle: LoginThrottle, pool: ConnectionPool, settings: Settings
    ) -> None:
        self.identity = identity
        self.throttle = throttle
        self.pool = pool
        self.passwords = identity.passwords
        self.lifetime = timedelta(hours=settings.session_lifetime_hours)
        self.idle = timedelta(minutes=settings.session_idle_minutes)

    def begin(self, user_id: str, client: str, device_token: str | None, now: datetime) -> Attempt:
        """Count the attempt; TooManyAttempts when locked. The caller waits verdict.delay_s."""
        user_key = self.identity.user_key(normalise_user_id(user_id))
        with self.pool.connection() as conn:
            credential = credentials.by_user_key(conn, user_key)
            device_key = (
                sessions.trusted_device_key(conn, credential.account_id, device_token)
                if credential
                else None
            )
        verdict = self.throttle.begin(
            account_key=user_key, client=client, device_key=device_key, now=now
        )
        if not verdict.allowed:
            raise TooManyAttempts(
                "Too many failed sign-ins; wait before trying again, or reset the password.",
                retry_after_s=verdict.retry_after_s or 60,
            )
        return Attempt(user_key, client, credential, device_key, verdict)

    def finish(self, attempt: Attempt, password: str, now: datetime) -> SignedIn:
        credential = attempt.credential
        if not self.passwords.verify(credential.password_hash if credential else None, password):
            raise wrong_credentials()
        assert credential is not None  # verify() is False without a stored hash
        self.throttle.succeeded(
            account_key=attempt.user_key,
            client=attempt.client,
            device_key=attempt.device_key,
            now=now,
        )
        if credential.status != credentials.ACTIVE:
            raise Forbidden(
                "Verify your e-mail address first: follow the link we sent you.",
                code="email_not_verified",
            )
        with self.pool.connection() as conn, conn.transaction():
            if self.passwords.needs_rehash(credential.password_hash):
                rehashed = self.passwords.hash(password)
                credentials.set_password_hash(conn, credential.account_id, rehashed)
            device_key, device_token = attempt.device_key, None
            if device_key is None:
                device_token = sessions.trust_device(conn, credential.account_id, now)
                device_key = sessions.device_key_of(device_token)
            session = sessions.issue(conn, credential.account_id, now, self.lifetime, device_key)
        return SignedIn(
            credential.account_id,
            credential.role,
            session,
            device_token,
            credential.must_change_password,
        )

    def session(self, token: str, now: datetime) -> sessions.Session | None:
        with self.pool.connection() as conn:
            return sessions.authenticate(conn, token, now, self.idle)

    def logout(self, token: str, now: datetime) -> None:
        with self.pool.connection() as conn:
            sessions.revoke(conn, token, now)

    def reauthenticate(
        self, account_id: UUID, password: str, client: str, now: datetime, session_token: str
    ) -> str:
        """Check a signed-in user's password again (before erasure, an e-mail or password
        change), throttled like a login in the bucket of the session's own device: a
        stolen session cannot guess the password, and nobody can lock the customer out.
        Returns that device's key."""
        with self.pool.connection() as conn:
            credential = credentials.by_account(conn, account_id)
            device_key = sessions.session_device_key(conn, session_token)
        if credential is None:
            raise wrong_credentials()
        verdict = self.throttle.begin(
            account_key=credential.user_key, client=client, device_key=device_key, now=now
        )
        if not verdict.allowed:
            raise TooManyAttempts(
                "Too many wrong passwords; wait before trying again.",
                retry_after_s=verdict.retry_after_s or 60,
            )
        if not self.passwords.verify(credential.password_hash, password):
            raise Unauthenticated("The password is wrong.", code="invalid_password")
        self.throttle.succeeded(
            account_key=credential.user_key, client=client, device_key=device_key, now=now
        )
        return device_key

    def change_password(
        self,
        account_id: UUID,
        current: str,
        new: str,
        client: str,
        now: datetime,
        session_token: str,
    ) -> SignedIn:
        """Replace the password, end every session, and start one fresh session."""
        device_key = self.reauthenticate(account_id, current, client, now, session_token)
        self._set_password(account_id, new, now, by_reset=False)
        with self.pool.connection() as conn:
            credential = credentials.by_account(conn, account_id)
            assert credential is not None
            session = sessions.issue(conn, account_id, now, self.lifetime, device_key)
        return SignedIn(account_id, credential.role, session, None, False)

    def request_reset(self, user_id: str, now: datetime) -> None:
        """Ask for a reset link; silently nothing for unknown or unverified accounts."""
        user_key = self.identity.user_key(normalise_user_id(user_id))
        with self.pool.connection() as conn:
            credential = credentials.by_user_key(conn, user_key)
        if credential is not None and credential.status == credentials.ACTIVE:
            self.identity.accounts.request_password_reset(credential.account_id, now)

    def reset_password(self, token: str, new: str, now: datetime) -> None:
        with self.pool.connection() as conn:
            redeemed = tokens.redeem(conn, token, tokens.Purpose.RESET_PASSWORD)
        if redeemed is None:
            raise invalid_link()
        self._set_password(redeemed.account_id, new, now, by_reset=True)

    def _set_password(self, account_id: UUID, new: str, now: datetime, *, by_reset: bool) -> None:
        account = self.identity.account(account_id)
        keyring = self.identity.keyring
        user_id = keyring.unseal(account.user_id) or ""
        check_password(new, user_id=user_id, email=keyring.unseal(account.email))
        new_hash = self.passwords.hash(new)  # before the transaction: no connection waits on it
        with self.pool.connection() as conn, conn.transaction():
            user_key = credentials.change_password(conn, account_id, new_hash, now)
            sessions.revoke_all(conn, account_id, now)
            tokens.revoke_all(conn, account_id, tokens.Purpose.RESET_PASSWORD)
        if user_key is not None and by_reset:
            self.throttle.clear_account(user_key)  # the e-mail proved it is the real customer
        self.identity.accounts.record_password_change(account_id, now, by_reset=by_reset)

    def erase(
        self, account_id: UUID, password: str, client: str, now: datetime, session_token: str
    ) -> None:
        """Erase the signed-in customer after checking their password once more."""
        self.reauthenticate(account_id, password, client, now, session_token)
        with self.pool.connection() as conn:
            credential = credentials.by_account(conn, account_id)
        self.identity.erase(account_id, now)
        if credential is not None:
            self.throttle.clear_account(credential.user_key)

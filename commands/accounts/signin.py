"""Signing in and everything that proves a password: login, re-authentication,
password change and reset, confirming an address.

Every path does the same work whether or not the account exists (the throttle is keyed
by the blind user id, an unknown account is checked against a decoy hash), so neither
the answer nor its timing tells an outsider which user ids are real.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from psycopg import Connection
from psycopg_pool import ConnectionPool

from commands.accounts.identity import Identity, invalid_link
from commands.accounts.mfa import SecondFactor
from commands.writes import Written
from domain import mfa as mfa_rules
from domain.accounts import normalise_user_id
from domain.errors import Busy, Forbidden, TooManyAttempts, Unauthenticated
from domain.passwords import check_password
from domain.session_policy import Lifetime, SessionPolicy
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
    mfa_enrolment_required: bool = False


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
        self.second_factor = SecondFactor(identity)
        self.policy = SessionPolicy(
            customer=Lifetime(
                timedelta(hours=settings.session_lifetime_hours),
                timedelta(minutes=settings.session_idle_minutes),
            ),
            staff=Lifetime(
                timedelta(hours=settings.staff_session_lifetime_hours),
                timedelta(minutes=settings.staff_session_idle_minutes),
            ),
        )
        self.device_lifetime = timedelta(days=settings.trusted_device_days)
        self.one_time_password_lifetime = timedelta(hours=settings.one_time_password_hours)

    def begin(self, user_id: str, client: str, device_token: str | None, now: datetime) -> Attempt:
        """Count the attempt; TooManyAttempts when locked. The caller waits verdict.delay_s."""
        user_key = self.identity.user_key(normalise_user_id(user_id))
        with self.pool.connection() as conn:
            credential = credentials.by_user_key(conn, user_key)
            device_key = (
                sessions.trusted_device_key(
                    conn,
                    credential.account_id,
                    device_token,
                    now=now,
                    lifetime=self.device_lifetime,
                )
                if credential
                else None
            )
        verdict = self._begin(
            (user_key, client, device_key),
            now,
            "Too many failed sign-ins; wait before trying again, or reset the password.",
        )
        return Attempt(user_key, client, credential, device_key, verdict)

    def finish(
        self, attempt: Attempt, password: str, now: datetime, one_time_code: str | None = None
    ) -> SignedIn:
        credential = attempt.credential
        stored = credential.password_hash if credential else None
        counted = (attempt.user_key, attempt.client, attempt.device_key)
        if not self._verify(stored, password, counted, now):
            raise wrong_credentials()
        assert credential is not None  # verify() is False without a stored hash
        # The attempt stays counted as a failure until the second factor passes too, so
        # codes are guessed only as slowly as passwords.
        enrolled = self._prove_second_factor(credential.account_id, one_time_code, now)
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
        self._check_one_time_password(credential, now)
        with self.pool.connection() as conn, conn.transaction():
            if self.passwords.needs_rehash(credential.password_hash):
                rehashed = self.passwords.hash(password)
                credentials.set_password_hash(conn, credential.account_id, rehashed)
            device_key, device_token = attempt.device_key, None
            if device_key is None:
                device_token = sessions.trust_device(conn, credential.account_id, now)
                device_key = sessions.device_key_of(device_token)
            session = self._issue(conn, credential.account_id, credential.role, now, device_key)
        return SignedIn(
            credential.account_id,
            credential.role,
            session,
            device_token,
            credential.must_change_password,
            mfa_rules.required_for(credential.role) and not enrolled,
        )

    def _begin(self, counted: tuple[str, str, str | None], now: datetime, refusal: str) -> Verdict:
        """Count an attempt (`counted`: its account key, client and device) before anything
        is checked; TooManyAttempts with `refusal` while its buckets are locked."""
        account_key, client, device_key = counted
        verdict = self.throttle.begin(
            account_key=account_key, client=client, device_key=device_key, now=now
        )
        if not verdict.allowed:
            raise TooManyAttempts(refusal, retry_after_s=verdict.retry_after_s or 60)
        return verdict

    def _verify(
        self,
        stored: str | None,
        password: str,
        counted: tuple[str, str, str | None],
        now: datetime,
    ) -> bool:
        """Check a password the throttle has counted (`counted`: its account key, client
        and device); when no hashing slot comes free, the attempt is withdrawn, not left
        to count as a failure against a person who only met a busy server."""
        try:
            return self.passwords.verify(stored, password)
        except Busy:
            account_key, client, device_key = counted
            self.throttle.withdrawn(
                account_key=account_key, client=client, device_key=device_key, now=now
            )
            raise

    def _prove_second_factor(self, account_id: UUID, code: str | None, now: datetime) -> bool:
        """Whether the account has a second factor; raises unless `code` proves it."""
        if not self.second_factor.enabled(account_id):
            return False
        if not code:
            raise Unauthenticated(
                "Send the code from your authenticator app (or a recovery code) as one_time_code.",
                code="one_time_code_required",
            )
        self.second_factor.prove(account_id, code, now)
        return True

    def _check_one_time_password(self, credential: Credential, now: datetime) -> None:
        if (
            credential.must_change_password
            and now - credential.password_changed_at > self.one_time_password_lifetime
        ):
            raise Forbidden(
                "This one-time password has expired; ask an operator for a new one "
                "(jalur users reset-password).",
                code="one_time_password_expired",
            )

    def _issue(
        self,
        conn: Connection[Any],
        account_id: UUID,
        role: str,
        now: datetime,
        device_key: str | None,
    ) -> sessions.Issued:
        lifetime = self.policy.lifetime(role).absolute
        return sessions.issue(conn, account_id, now, lifetime, device_key)

    def session(self, token: str, now: datetime) -> sessions.Session | None:
        with self.pool.connection() as conn:
            return sessions.authenticate(conn, token, now, self.policy)

    def live_sessions(self, account_id: UUID, role: str, now: datetime) -> list[dict[str, Any]]:
        with self.pool.connection() as conn:
            return sessions.live_sessions(conn, account_id, role, now, self.policy)

    def sign_out_everywhere(self, account_id: UUID, now: datetime) -> None:
        """Every session and every trusted device of the account ends."""
        with self.pool.connection() as conn, conn.transaction():
            sessions.revoke_all(conn, account_id, now)
            sessions.forget_devices(conn, account_id)

    def logout(self, token: str, now: datetime) -> None:
        with self.pool.connection() as conn:
            sessions.revoke(conn, token, now)

    def reauthenticate(
        self,
        account_id: UUID,
        password: str,
        client: str,
        now: datetime,
        session_token: str | None,
        *,
        link_token: str | None = None,
    ) -> str | None:
        """Check a signed-in user's password again (before erasure, an e-mail or password
        change), throttled like a login in the bucket of the session's own device: a
        stolen session cannot guess the password, and nobody can lock the customer out.
        Returns that device's key. Without a session, a link followed from an e-mail is
        the device (holding it proves the mailbox), so a stranger who fills the account's
        unknown-devices bucket cannot stop its owner from confirming their address."""
        with self.pool.connection() as conn:
            credential = credentials.by_account(conn, account_id)
            device_key = (
                sessions.session_device_key(conn, session_token)
                if session_token
                else f"link:{tokens.digest(link_token).hex()}"
                if link_token
                else None
            )
        if credential is None:
            raise wrong_credentials()
        counted = (credential.user_key, client, device_key)
        self._begin(counted, now, "Too many wrong passwords; wait before trying again.")
        if not self._verify(credential.password_hash, password, counted, now):
            raise Unauthenticated("The password is wrong.", code="invalid_password")
        self.throttle.succeeded(
            account_key=credential.user_key, client=client, device_key=device_key, now=now
        )
        return device_key

    def disable_second_factor(
        self,
        account_id: UUID,
        password: str,
        code: str,
        client: str,
        now: datetime,
        session_token: str | None,
    ) -> None:
        """Turn a customer's second factor off: the password, then a code, each throttled
        as a login attempt on the session's own device."""
        device_key = self.reauthenticate(account_id, password, client, now, session_token)
        with self.pool.connection() as conn:
            credential = credentials.by_account(conn, account_id)
        assert credential is not None  # reauthenticate refuses an account without one
        key = credential.user_key
        self._begin(
            (key, client, device_key), now, "Too many wrong codes; wait before trying again."
        )
        self.second_factor.disable(account_id, code, now)
        self.throttle.succeeded(account_key=key, client=client, device_key=device_key, now=now)

    def confirm_email(self, token: str, password: str, client: str, now: datetime) -> Written:
        """Verify a registration's address, proved by the password of the account that
        registered it; a wrong password leaves the link usable."""
        account_id = self.identity.link_owner(token, tokens.Purpose.VERIFY_EMAIL)
        self.reauthenticate(account_id, password, client, now, None, link_token=token)
        return self.identity.verify_email(token, account_id, now)

    def confirm_email_change(
        self, token: str, password: str, client: str, now: datetime
    ) -> Written:
        """Confirm a new address, proved by the password of the account that asked for it."""
        account_id = self.identity.link_owner(token, tokens.Purpose.CONFIRM_EMAIL_CHANGE)
        self.reauthenticate(account_id, password, client, now, None, link_token=token)
        return self.identity.confirm_email_change(token, account_id, now)

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
            session = self._issue(conn, account_id, credential.role, now, device_key)
        enrolment_due = mfa_rules.required_for(credential.role) and not (
            self.second_factor.enabled(account_id)
        )
        return SignedIn(account_id, credential.role, session, None, False, enrolment_due)

    def request_reset(self, user_id: str, now: datetime) -> None:
        """Ask for a reset link; silently nothing for unknown or unverified accounts."""
        user_key = self.identity.user_key(normalise_user_id(user_id))
        with self.pool.connection() as conn:
            credential = credentials.by_user_key(conn, user_key)
        if credential is not None and credential.status == credentials.ACTIVE:
            self.identity.accounts.request_password_reset(credential.account_id, now)

    def reset_password(self, token: str, new: str, now: datetime) -> None:
        """The password rules are checked before the token is used: a weak choice leaves
        the link working for a better one."""
        account_id = self.identity.link_owner(token, tokens.Purpose.RESET_PASSWORD)
        self._check_new_password(account_id, new)
        new_hash = self.passwords.hash(new)  # a server too busy to hash leaves the link too
        with self.pool.connection() as conn:
            redeemed = tokens.redeem(conn, token, tokens.Purpose.RESET_PASSWORD, account_id)
        if redeemed is None:
            raise invalid_link()
        self._store_password(account_id, new_hash, now, by_reset=True)

    def _check_new_password(self, account_id: UUID, new: str) -> None:
        account = self.identity.account(account_id)
        keyring = self.identity.keyring
        user_id = keyring.unseal(account.user_id) or ""
        check_password(new, user_id=user_id, email=keyring.unseal(account.email))

    def _set_password(self, account_id: UUID, new: str, now: datetime, *, by_reset: bool) -> None:
        self._check_new_password(account_id, new)
        new_hash = self.passwords.hash(new)  # before the transaction: no connection waits on it
        self._store_password(account_id, new_hash, now, by_reset=by_reset)

    def _store_password(
        self, account_id: UUID, new_hash: str, now: datetime, *, by_reset: bool
    ) -> None:
        # First, so that no crash can leave a change asked for under the old password.
        reason = "password_reset" if by_reset else "password_changed"
        self.identity.drop_pending_email_change(account_id, reason, now)
        with self.pool.connection() as conn, conn.transaction():
            user_key = credentials.change_password(conn, account_id, new_hash, now)
            sessions.revoke_all(conn, account_id, now)
            sessions.forget_devices(conn, account_id)
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

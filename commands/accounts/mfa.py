"""The second factor: enrol (start, then confirm with a code), prove it at sign-in with
a TOTP code or a one-use recovery code, and, for customers only, turn it off.

Guessing codes is throttled by the caller: sign-in checks a code inside the same login
attempt as the password (see signin.py), never on its own.
"""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from commands.accounts.identity import Identity
from domain import mfa as rules
from domain.errors import Conflict, Forbidden, Unauthenticated
from infra.postgres import credentials, mfa
from infra.security import totp


@dataclass(frozen=True)
class Enrolment:
    secret: str
    otpauth_uri: str


def wrong_code() -> Unauthenticated:
    return Unauthenticated(
        "The one-time code is wrong or already used.", code="invalid_one_time_code"
    )


class SecondFactor:
    def __init__(self, identity: Identity) -> None:
        self.identity = identity
        self.pool = identity.pool
        self.keyring = identity.keyring

    def enabled(self, account_id: UUID) -> bool:
        with self.pool.connection() as conn:
            factor = mfa.factor_of(conn, account_id)
        return factor is not None and factor.enabled

    def start(self, account_id: UUID, now: datetime) -> Enrolment:
        """A new secret, pending until confirmed; shown to the person this once."""
        secret = totp.new_secret()
        sealed = self.keyring.seal(account_id, {"totp": secret})["totp"] or ""
        with self.pool.connection() as conn:
            started = mfa.start(conn, account_id, sealed, now)
        if not started:
            raise Conflict("Two-step sign-in is already on.", code="mfa_already_enabled")
        name = self.keyring.unseal(self.identity.account(account_id).user_id) or str(account_id)
        return Enrolment(secret, totp.provisioning_uri(secret, name))

    def confirm(self, account_id: UUID, code: str, now: datetime) -> list[str]:
        """Turn the pending secret on with a code from it; the recovery codes, shown once."""
        with self.pool.connection() as conn:
            factor = mfa.factor_of(conn, account_id)
        if factor is None or factor.enabled:
            raise Conflict("Start enrolment first (POST /v1/me/mfa).", code="mfa_not_started")
        step = self._matching_step(factor, code, now)
        if step is None:
            raise wrong_code()
        codes = [totp.new_recovery_code() for _ in range(rules.RECOVERY_CODE_COUNT)]
        hashes = [totp.recovery_hash(rules.normalise_recovery_code(c)) for c in codes]
        with self.pool.connection() as conn, conn.transaction():
            if not mfa.enable(conn, account_id, step, hashes, now):
                raise Conflict("Two-step sign-in is already on.", code="mfa_already_enabled")
        self.identity.accounts.record_mfa_enabled(account_id, now)
        return codes

    def prove(self, account_id: UUID, code: str, now: datetime) -> None:
        """Accept a TOTP code (each step once) or an unspent recovery code; else raise."""
        with self.pool.connection() as conn:
            factor = mfa.factor_of(conn, account_id)
        if factor is None or not factor.enabled:
            return
        if rules.is_totp_code(code):
            step = self._matching_step(factor, code, now)
            with self.pool.connection() as conn:
                if step is None or not mfa.use_step(conn, account_id, step):
                    raise wrong_code()
            return
        self._spend_recovery_code(account_id, code, now)

    def disable(self, account_id: UUID, code: str, now: datetime) -> None:
        """Turn the factor off (the caller has checked the password); customers only."""
        with self.pool.connection() as conn:
            credential = credentials.by_account(conn, account_id)
        if credential is None or rules.required_for(credential.role):
            raise Forbidden(
                "Your role must keep two-step sign-in on.", code="mfa_required_for_role"
            )
        if not self.enabled(account_id):
            raise Conflict("Two-step sign-in is not on.", code="mfa_not_enabled")
        self.prove(account_id, code, now)
        with self.pool.connection() as conn, conn.transaction():
            mfa.remove(conn, account_id)
        self.identity.accounts.record_mfa_disabled(account_id, now)

    def _matching_step(self, factor: mfa.Factor, code: str, now: datetime) -> int | None:
        if not rules.is_totp_code(code):
            return None
        secret = self.keyring.unseal(factor.sealed_secret)
        if secret is None:
            return None
        steps = rules.acceptable_steps(now, factor.last_step)
        return totp.matching_step(secret, code, steps)

    def _spend_recovery_code(self, account_id: UUID, code: str, now: datetime) -> None:
        code_hash = totp.recovery_hash(rules.normalise_recovery_code(code))
        with self.pool.connection() as conn:
            spent = mfa.use_recovery_code(conn, account_id, code_hash, now)
        if not spent:
            raise wrong_code()
        self.identity.accounts.record_recovery_code_used(account_id, now)

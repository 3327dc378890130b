"""TOTP (RFC 6238, through pyotp) and recovery codes: the crypto, no decisions."""

import base64
import hashlib
import hmac
import secrets

import pyotp

ISSUER = "Jalur"
RECOVERY_CODE_BYTES = 10  # 80 bits: far beyond guessing, so a fast hash is enough


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, account_name: str) -> str:
    """The otpauth:// URI an authenticator app reads (usually from a QR code)."""
    return pyotp.TOTP(secret).provisioning_uri(name=account_name, issuer_name=ISSUER)


def code_at(secret: str, step: int) -> str:
    return pyotp.TOTP(secret).generate_otp(step)


def matching_step(secret: str, code: str, steps: list[int]) -> int | None:
    """The step among `steps` whose code this is, compared in constant time."""
    found = None
    for step in steps:
        if hmac.compare_digest(code_at(secret, step), code.strip()):
            found = step
    return found


def new_recovery_code() -> str:
    """Sixteen base32 letters and digits in groups of four, e.g. `k7qa-2mzd-…`."""
    raw = base64.b32encode(secrets.token_bytes(RECOVERY_CODE_BYTES)).decode().lower()
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def recovery_hash(normalised_code: str) -> bytes:
    return hashlib.sha256(normalised_code.encode()).digest()

"""What a password must be (OWASP ASVS 5.0, 6.2): long enough, not too long, not common.

No composition rules (ASVS forbids them); length counts Unicode code points; spaces are
allowed. A password is refused when it, or it stripped of trailing digits and symbols,
is one of the 30,000 most common passwords, or when it holds the user id or the local part
of the e-mail address.
"""

from functools import cache
from importlib.resources import files

from domain.errors import RuleViolation

MIN_CHARS = 12
MAX_CHARS = 128
_TRAILING_NOISE = "0123456789!@#$%^&*()-_=+.,?~ "


@cache
def common_passwords() -> frozenset[str]:
    text = files("domain").joinpath("data/common-passwords.txt").read_text(encoding="utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


def check_password(password: str, *, user_id: str = "", email: str | None = None) -> None:
    """Raise RuleViolation (code weak_password) naming the first rule the password breaks."""
    if not MIN_CHARS <= len(password) <= MAX_CHARS:
        raise RuleViolation(
            f"A password is {MIN_CHARS} to {MAX_CHARS} characters long.", code="weak_password"
        )
    folded = password.casefold()
    if folded in common_passwords() or folded.rstrip(_TRAILING_NOISE) in common_passwords():
        raise RuleViolation(
            "This password is among the most common ones; choose another.", code="weak_password"
        )
    personal = [user_id.casefold()]
    if email:
        personal.append(email.split("@", 1)[0].casefold())
    if any(len(word) >= 3 and word in folded for word in personal):
        raise RuleViolation(
            "A password must not contain your user id or e-mail name.", code="weak_password"
        )

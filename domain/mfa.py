"""Multi-factor rules (ASVS 5.0, V6.3 and V6.5): who must use a second factor, which
TOTP time steps a code may come from, and the shape of recovery codes.

A code is accepted from the current 30-second step or one step either side (clock drift),
and only from a step later than the last one the account used, so a code seen over
someone's shoulder cannot be replayed within its window.
"""

import re
from datetime import datetime

from domain.accounts import Role

REQUIRED_ROLES = frozenset({Role.ADMIN, Role.AUDITOR, Role.HUB_OPERATOR, Role.COURIER})
STEP_S = 30
DRIFT_STEPS = 1
RECOVERY_CODE_COUNT = 10
TOTP_PATTERN = re.compile(r"^[0-9]{6}$")
_RECOVERY_CHARS = re.compile(r"[^a-z2-7]")


def required_for(role: str) -> bool:
    """Whether this role may use nothing but enrolment until it has a second factor."""
    return role in REQUIRED_ROLES


def step_at(now: datetime) -> int:
    return int(now.timestamp()) // STEP_S


def acceptable_steps(now: datetime, last_used: int | None) -> list[int]:
    """The steps a code may come from now, newest last, never one already used."""
    current = step_at(now)
    window = range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1)
    return [step for step in window if last_used is None or step > last_used]


def is_totp_code(code: str) -> bool:
    return bool(TOTP_PATTERN.match(code.strip()))


def normalise_recovery_code(code: str) -> str:
    """Recovery codes compare without case, spaces or dashes (people copy them by hand)."""
    return _RECOVERY_CHARS.sub("", code.casefold())

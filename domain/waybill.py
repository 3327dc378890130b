"""Waybill (AWB) numbers: "JL", eleven serial digits, one Damm check digit.

The Damm algorithm catches every single-digit error and every transposition of
two adjacent digits, so a mistyped number is rejected before any look-up.
"""

import re

PREFIX = "JL"
SERIAL_DIGITS = 11
SERIAL_LIMIT = 10**SERIAL_DIGITS
_PATTERN = re.compile(rf"{PREFIX}[0-9]{{{SERIAL_DIGITS + 1}}}")  # ASCII digits only

_DAMM_TABLE = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)


def damm_digit(digits: str) -> int:
    interim = 0
    for char in digits:
        interim = _DAMM_TABLE[interim][int(char)]
    return interim


def waybill_for(serial: int) -> str:
    """The waybill number for a serial in [0, 10**11)."""
    if not 0 <= serial < SERIAL_LIMIT:
        raise ValueError("serial out of range")
    digits = f"{serial:0{SERIAL_DIGITS}d}"
    return f"{PREFIX}{digits}{damm_digit(digits)}"


def normalise(text: str) -> str:
    """Upper-case and drop the spaces and dashes people type into numbers."""
    return re.sub(r"[\s-]", "", text).upper()


def is_valid(awb: str) -> bool:
    """True for a well-formed waybill whose check digit matches."""
    if _PATTERN.fullmatch(awb) is None:
        return False
    return damm_digit(awb[len(PREFIX) :]) == 0

"""Masking of names for public answers: initials only, fixed-length stars."""


def mask_name(name: str) -> str:
    """'Budi Santoso' -> 'B*** S***'. The star count never reveals a length."""
    return " ".join(word[0] + "***" for word in name.split())

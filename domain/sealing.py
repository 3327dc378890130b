"""Personal data is sealed before it enters an event: encrypted with its data subject's key.

A sealed value is a string `pii1:<subject uuid>:<base64url(nonce + ciphertext)>`. It names
its subject, so any holder of the keys can open it, and destroying the subject's key makes
every copy unreadable at once: in the event store, on the topics, in read models, in
backups (crypto-shredding). The domain only moves sealed strings around; the keys and
the cipher live in `infra/security/keyring.py`.
"""

import re
from collections.abc import Iterable, Mapping
from typing import Protocol
from uuid import UUID

from domain.errors import Conflict

PREFIX = "pii1:"
_SEALED = re.compile(r"^pii1:([0-9a-f-]{36}):([A-Za-z0-9_-]+)$")


class SubjectErased(Conflict):
    """Nothing more can be sealed for a data subject whose key was destroyed."""

    code = "subject_erased"


class Sealer(Protocol):
    def seal(self, subject: UUID, values: Mapping[str, str | None]) -> dict[str, str | None]:
        """Seal each non-None value under the subject's key (created on first use)."""
        ...

    def seal_many(
        self, values: Mapping[UUID, Mapping[str, str | None]]
    ) -> dict[UUID, dict[str, str | None]]:
        """`seal` for several subjects at once (their new keys made in one write)."""
        ...

    def unseal_many(self, values: Iterable[str | None]) -> dict[str, str | None]:
        """Open sealed values; a value whose subject was erased maps to None."""
        ...


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and _SEALED.match(value) is not None


def subject_of(sealed: str) -> UUID:
    match = _SEALED.match(sealed)
    if match is None:
        raise ValueError("not a sealed value")
    return UUID(match.group(1))


def payload_of(sealed: str) -> str:
    match = _SEALED.match(sealed)
    if match is None:
        raise ValueError("not a sealed value")
    return match.group(2)


def compose(subject: UUID, payload: str) -> str:
    return f"{PREFIX}{subject}:{payload}"

"""A Sealer without I/O for unit tests: real AES-256-GCM, the keys in a dict.

It writes the same sealed format as infra/security/keyring.py's Keyring (`pii1:<subject>:<b64url>`,
the subject's bytes as associated data), so what it seals looks exactly like production data.
"""

import base64
import os
from collections.abc import Iterable, Mapping
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from domain.sealing import SubjectErased, compose, is_sealed, payload_of, subject_of

NONCE_BYTES = 12


class MemoryKeyring:
    def __init__(self) -> None:
        self._keys: dict[UUID, bytes | None] = {}  # None: destroyed for good

    def seal(self, subject: UUID, values: Mapping[str, str | None]) -> dict[str, str | None]:
        cipher = AESGCM(self._key_for_sealing(subject))
        return {
            name: None if value is None else _seal(cipher, subject, value)
            for name, value in values.items()
        }

    def seal_many(
        self, values: Mapping[UUID, Mapping[str, str | None]]
    ) -> dict[UUID, dict[str, str | None]]:
        return {subject: self.seal(subject, fields) for subject, fields in values.items()}

    def unseal_many(self, values: Iterable[str | None]) -> dict[str, str | None]:
        return {v: self._open(v) for v in values if v is not None and is_sealed(v)}

    def destroy(self, subject: UUID) -> None:
        self._keys[subject] = None

    def _key_for_sealing(self, subject: UUID) -> bytes:
        if subject not in self._keys:
            self._keys[subject] = AESGCM.generate_key(bit_length=256)
        key = self._keys[subject]
        if key is None:
            raise SubjectErased("This person's data was erased; nothing can be added for them.")
        return key

    def _open(self, sealed: str) -> str | None:
        subject = subject_of(sealed)
        key = self._keys.get(subject)
        if key is None:
            return None
        blob = base64.urlsafe_b64decode(payload_of(sealed) + "==")
        try:
            plain = AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], subject.bytes)
        except InvalidTag:
            return None
        return plain.decode()


def _seal(cipher: AESGCM, subject: UUID, value: str) -> str:
    nonce = os.urandom(NONCE_BYTES)
    blob = nonce + cipher.encrypt(nonce, value.encode(), subject.bytes)
    return compose(subject, base64.urlsafe_b64encode(blob).decode().rstrip("="))

"""Per-subject data keys (AES-256-GCM), crypto-shredding and blind indexes.

Every data subject (a customer, or one party of a walk-in shipment) has its own random
data key in `data_keys`, stored wrapped (AES-GCM) under a key derived from the master key.
Destroying a subject's key is erasure: every sealed copy of their data, wherever it went,
becomes noise. Blind indexes (HMAC-SHA256 under another derived key) let us look up a
user id or e-mail address without storing it in clear.
"""

import base64
import hashlib
import hmac
import os
from collections.abc import Iterable, Mapping
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from psycopg import Connection
from psycopg_pool import ConnectionPool

from domain.sealing import SubjectErased, compose, is_sealed, payload_of, subject_of

NONCE_BYTES = 12
KEY_BYTES = 32
SEALING_KEYS_KEPT = 10_000

DDL = (
    """CREATE TABLE IF NOT EXISTS data_keys (
        subject uuid PRIMARY KEY,
        wrapped bytea,
        created_at timestamptz NOT NULL DEFAULT now(),
        destroyed_at timestamptz
    )""",
)


def derive(master_key: bytes, purpose: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=purpose.encode()
    ).derive(master_key)


class Keyring:
    def __init__(self, pool: ConnectionPool, master_key: bytes) -> None:
        self._pool = pool
        self._wrapping = AESGCM(derive(master_key, "jalur data-key wrapping v1"))
        self._blind_key = derive(master_key, "jalur blind index v1")
        # Keys for sealing only: a key destroyed meanwhile just seals data nobody can read.
        # Opening never uses a cache, so erasure takes effect at once everywhere.
        self._sealing_keys: dict[UUID, AESGCM] = {}

    def seal(self, subject: UUID, values: Mapping[str, str | None]) -> dict[str, str | None]:
        return self.seal_many({subject: values})[subject]

    def seal_many(
        self, values: Mapping[UUID, Mapping[str, str | None]]
    ) -> dict[UUID, dict[str, str | None]]:
        ciphers = self._sealing_keys_for(set(values))
        return {
            subject: _seal(ciphers[subject], subject, fields) for subject, fields in values.items()
        }

    def unseal_many(
        self, values: Iterable[str | None], conn: Connection[Any] | None = None
    ) -> dict[str, str | None]:
        wanted = {value for value in values if value is not None and is_sealed(value)}
        if not wanted:
            return {}
        subjects = {subject_of(value) for value in wanted}
        if conn is None:
            with self._pool.connection() as own:
                keys = self._keys(own, subjects)
        else:
            keys = self._keys(conn, subjects)
        return {value: _open(keys.get(subject_of(value)), value) for value in wanted}

    def open_sealed(self, sealed: str, wrapped: bytes) -> str | None:
        """Open a value with its subject's wrapped key, read from data_keys by the caller
        in the same statement as the value (no cache: erasure holds at once)."""
        return _open(self._unwrap(subject_of(sealed), bytes(wrapped)), sealed)

    def unseal(self, value: str | None, conn: Connection[Any] | None = None) -> str | None:
        if value is None:
            return None
        return self.unseal_many([value], conn).get(value)

    def destroy(self, subject: UUID, conn: Connection[Any] | None = None) -> None:
        """Erase a subject: their key is gone for good, and no new one can be made."""
        statement = """INSERT INTO data_keys (subject, wrapped, destroyed_at)
                       VALUES (%s, NULL, now())
                       ON CONFLICT (subject) DO UPDATE
                       SET wrapped = NULL, destroyed_at = coalesce(data_keys.destroyed_at, now())"""
        if conn is None:
            with self._pool.connection() as own:
                own.execute(statement, (subject,))
        else:
            conn.execute(statement, (subject,))
        self._sealing_keys.pop(subject, None)

    def blind(self, kind: str, value: str) -> str:
        """A stable, keyed fingerprint of a look-up value (a user id, an e-mail)."""
        message = f"{kind}\x00{value}".encode()
        return hmac.new(self._blind_key, message, hashlib.sha256).hexdigest()

    def _sealing_keys_for(self, subjects: set[UUID]) -> dict[UUID, AESGCM]:
        """Ciphers for the subjects, making missing keys in one write (a destroyed key is
        never made again: its row stays, without a key)."""
        ciphers = {s: c for s in subjects if (c := self._sealing_keys.get(s)) is not None}
        missing = sorted(subjects - ciphers.keys())
        if not missing:
            return ciphers
        wrapped = [self._wrap(s, AESGCM.generate_key(bit_length=256)) for s in missing]
        with self._pool.connection() as conn:
            conn.execute(
                """INSERT INTO data_keys (subject, wrapped)
                   SELECT * FROM unnest(%s::uuid[], %s::bytea[])
                   ON CONFLICT (subject) DO NOTHING""",
                (missing, wrapped),
            )
            keys = self._keys(conn, set(missing))
        if len(keys) < len(missing):
            raise SubjectErased("This person's data was erased; nothing can be added for them.")
        if len(self._sealing_keys) + len(keys) > SEALING_KEYS_KEPT:
            self._sealing_keys.clear()
        for subject, key in keys.items():
            self._sealing_keys[subject] = ciphers[subject] = AESGCM(key)
        return ciphers

    def _keys(self, conn: Connection[Any], subjects: set[UUID]) -> dict[UUID, bytes]:
        rows = conn.execute(
            """SELECT subject, wrapped FROM data_keys
               WHERE subject = ANY(%s) AND wrapped IS NOT NULL""",
            (list(subjects),),
        ).fetchall()
        return {subject: self._unwrap(subject, bytes(wrapped)) for subject, wrapped in rows}

    def _wrap(self, subject: UUID, key: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._wrapping.encrypt(nonce, key, subject.bytes)

    def _unwrap(self, subject: UUID, wrapped: bytes) -> bytes:
        return self._wrapping.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], subject.bytes)


def _seal(cipher: AESGCM, subject: UUID, values: Mapping[str, str | None]) -> dict[str, str | None]:
    sealed: dict[str, str | None] = {}
    for name, value in values.items():
        if value is None:
            sealed[name] = None
            continue
        nonce = os.urandom(NONCE_BYTES)
        blob = nonce + cipher.encrypt(nonce, value.encode(), subject.bytes)
        sealed[name] = compose(subject, base64.urlsafe_b64encode(blob).decode().rstrip("="))
    return sealed


def _open(key: bytes | None, sealed: str) -> str | None:
    if key is None:
        return None
    blob = base64.urlsafe_b64decode(payload_of(sealed) + "==")
    nonce, ciphertext = blob[:NONCE_BYTES], blob[NONCE_BYTES:]
    try:
        plain = AESGCM(key).decrypt(nonce, ciphertext, subject_of(sealed).bytes)
    except InvalidTag:
        return None
    return plain.decode()

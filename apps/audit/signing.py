"""Signed checkpoints of the chain's head, with no Django import (the offline verifier uses it).

A checkpoint says "the trail had `event_count` events, the last one #`last_event_id` with hash
`last_hash`, at `signed_at`", numbered (`sequence`) and linked to the checkpoint before it
(`previous`, the digest of that document), signed with Ed25519. The private key signs where
checkpoints are written (beat, the default-queue worker, `manage.py checkpoint_audit`); auditors
verify with the public half only, so whoever can write the database cannot forge one.
"""

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

FORMAT = "amend-audit-checkpoint/1"


class CheckpointKeyError(ValueError):
    """A signing or public key is missing or not an Ed25519 key in PEM form."""


def _canonical(payload: dict) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def load_private_key(pem: str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise CheckpointKeyError(f"the audit signing key is not a PEM private key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise CheckpointKeyError("the audit signing key must be an Ed25519 key")
    return key


def load_public_key(pem: str) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError) as exc:
        raise CheckpointKeyError(f"the audit public key is not a PEM public key: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise CheckpointKeyError("the audit public key must be an Ed25519 key")
    return key


def public_pem(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def key_id(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """A short fingerprint of the public key, so a reader sees which key signed a checkpoint."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def generate_private_pem() -> str:
    return (
        Ed25519PrivateKey.generate()
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode()
    )


@dataclass(frozen=True)
class Checkpoint:
    sequence: int
    last_event_id: int
    last_hash: str
    event_count: int
    signed_at: str
    previous: str | None
    key_id: str
    signature: str

    def payload(self) -> dict:
        return {
            "format": FORMAT,
            "sequence": self.sequence,
            "last_event_id": self.last_event_id,
            "last_hash": self.last_hash,
            "event_count": self.event_count,
            "signed_at": self.signed_at,
            "previous": self.previous,
            "key_id": self.key_id,
        }

    def document(self) -> dict:
        return {"checkpoint": self.payload(), "signature": self.signature}

    def digest(self) -> str:
        """What the next checkpoint's `previous` names: sha256 over this signed document."""
        return hashlib.sha256(_canonical(self.document())).hexdigest()

    def file_name(self) -> str:
        return f"checkpoint-{self.sequence:08d}.json"

    def verifies(self, public: Ed25519PublicKey) -> bool:
        try:
            public.verify(base64.b64decode(self.signature), _canonical(self.payload()))
        except (InvalidSignature, ValueError):
            return False
        return True


def sign(key: Ed25519PrivateKey, *, sequence: int, last_event_id: int, last_hash: str, event_count: int,
         signed_at: str, previous: str | None) -> Checkpoint:
    unsigned = Checkpoint(sequence, last_event_id, last_hash, event_count, signed_at, previous, key_id(key), "")
    signature = base64.b64encode(key.sign(_canonical(unsigned.payload()))).decode()
    return Checkpoint(sequence, last_event_id, last_hash, event_count, signed_at, previous, key_id(key), signature)


def parse(document: Any) -> Checkpoint:
    """A checkpoint from its JSON document; ValueError naming what is wrong."""
    try:
        payload = document["checkpoint"]
        if payload.get("format") != FORMAT:
            raise ValueError(f"unknown format {payload.get('format')!r}")
        return Checkpoint(
            sequence=int(payload["sequence"]),
            last_event_id=int(payload["last_event_id"]),
            last_hash=str(payload["last_hash"]),
            event_count=int(payload["event_count"]),
            signed_at=str(payload["signed_at"]),
            previous=payload.get("previous"),
            key_id=str(payload["key_id"]),
            signature=str(document["signature"]),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a checkpoint document ({exc})") from exc

"""Organisations' Ed25519 signing keys: made on first need, stored encrypted, published forever.

Where the private key lives: in the `organisation_key` table, encrypted with
AES-256-GCM under a key derived (HKDF-SHA256) from PANLEARN_SECRET_KEY, with
the organisation and public key as associated data. So the key follows the
database to every worker (local processes and Celery machines alike), a
database dump alone cannot sign anything, and nothing is ever written to the
repository. If the secret key changes, the old private key can no longer be
decrypted: it is retired and a new key made; the old public key stays
published, so credentials signed with it still verify.
"""

from __future__ import annotations

import base64
import logging
import os
from collections.abc import Sequence
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select
from sqlalchemy.orm import Session

from panlearn.credentials.badges import OB_CONTEXT
from panlearn.credentials.verify import multibase_decode, public_key_multibase
from panlearn.models import Organisation, OrganisationKey, utcnow

log = logging.getLogger(__name__)

_FORMAT = b"pl1"  # version tag of the encrypted blob, so the scheme can change later
_NONCE_BYTES = 12


def _wrapping_key(secret: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"panlearn-credentials",
                info=b"organisation signing key v1").derive(secret.encode("utf-8"))


def _aad(organisation_id: int, public_multibase: str) -> bytes:
    # Binds the ciphertext to its row: a blob copied to another organisation won't decrypt.
    return f"panlearn:{organisation_id}:{public_multibase}".encode()


def encrypt_private_key(key: Ed25519PrivateKey, secret: str, *, organisation_id: int,
                        public_multibase: str) -> bytes:
    """The stored form of a private key: format tag, nonce, AES-GCM ciphertext."""
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                            serialization.NoEncryption())
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(_wrapping_key(secret)).encrypt(
        nonce, raw, _aad(organisation_id, public_multibase))
    return _FORMAT + nonce + sealed


def decrypt_private_key(blob: bytes, secret: str, *, organisation_id: int,
                        public_multibase: str) -> Ed25519PrivateKey:
    """Inverse of `encrypt_private_key`; `InvalidTag` when the secret key changed."""
    if not blob.startswith(_FORMAT):
        raise InvalidTag("unknown key format")
    nonce = blob[len(_FORMAT):len(_FORMAT) + _NONCE_BYTES]
    sealed = blob[len(_FORMAT) + _NONCE_BYTES:]
    raw = AESGCM(_wrapping_key(secret)).decrypt(nonce, sealed,
                                                _aad(organisation_id, public_multibase))
    return Ed25519PrivateKey.from_private_bytes(raw)


def organisation_keys(session: Session, organisation: Organisation) -> list[OrganisationKey]:
    """Every key the organisation ever signed with, oldest first."""
    return list(session.scalars(select(OrganisationKey)
                                .where(OrganisationKey.organisation_id == organisation.id)
                                .order_by(OrganisationKey.id)))


def signing_key(session: Session, organisation: Organisation, secret: str
                ) -> tuple[OrganisationKey, Ed25519PrivateKey]:
    """The organisation's current key, made (and flushed, not committed) on first need."""
    for record in reversed(organisation_keys(session, organisation)):
        if record.retired_at is not None:
            continue
        try:
            return record, decrypt_private_key(
                record.private_key_encrypted, secret, organisation_id=organisation.id,
                public_multibase=record.public_key_multibase)
        except InvalidTag:
            log.warning("organisation %s: key %s cannot be decrypted (PANLEARN_SECRET_KEY "
                        "changed?); retiring it", organisation.slug, record.public_key_multibase)
            record.retired_at = utcnow()
    private = Ed25519PrivateKey.generate()
    public = public_key_multibase(private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw))
    record = OrganisationKey(
        organisation_id=organisation.id, public_key_multibase=public,
        private_key_encrypted=encrypt_private_key(private, secret,
                                                  organisation_id=organisation.id,
                                                  public_multibase=public))
    session.add(record)
    session.flush()
    return record, private


def issuer_id(base_url: str, organisation: Organisation) -> str:
    """The organisation's issuer profile URL: the `issuer.id` of its credentials."""
    return f"{base_url}/api/organisations/{organisation.slug}"


def verification_method_id(base_url: str, organisation: Organisation,
                           record: OrganisationKey) -> str:
    """A key's id: the issuer profile URL with the Multikey as fragment."""
    return f"{issuer_id(base_url, organisation)}#{record.public_key_multibase}"


def jwk(record: OrganisationKey, kid: str) -> dict[str, Any]:
    """A public key as a JWK (RFC 8037: kty OKP, crv Ed25519)."""
    raw = multibase_decode(record.public_key_multibase)[2:]
    return {"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": kid,
            "x": base64.urlsafe_b64encode(raw).rstrip(b"=").decode()}


def keys_document(base_url: str, organisation: Organisation,
                  records: Sequence[OrganisationKey]) -> dict[str, Any]:
    """The organisation as a controller of its keys: Multikey methods and a JWK set.

    Retired keys stay listed (with `retired`), because credentials signed with
    them remain valid; what a key signed is never taken back by rotating it.
    """
    controller = issuer_id(base_url, organisation)
    methods = []
    for record in records:
        method: dict[str, Any] = {
            "id": verification_method_id(base_url, organisation, record),
            "type": "Multikey", "controller": controller,
            "publicKeyMultibase": record.public_key_multibase,
            "created": record.created_at.isoformat().replace("+00:00", "Z"),
        }
        if record.retired_at is not None:
            method["retired"] = record.retired_at.isoformat().replace("+00:00", "Z")
        methods.append(method)
    return {
        "@context": ["https://www.w3.org/ns/cid/v1", OB_CONTEXT],
        "id": controller,
        "type": ["Profile"],
        "name": organisation.name,
        **({"url": organisation.website} if organisation.website else {}),
        "verificationMethod": methods,
        "assertionMethod": [method["id"] for method in methods],
        "keys": [jwk(record, method["id"]) for record, method in zip(records, methods,
                                                                        strict=True)],
    }

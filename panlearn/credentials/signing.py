"""Add an eddsa-jcs-2022 Data Integrity proof to a credential.

The inverse of `verify.verify_credential`, sharing its canonicalisation and
hashing so that signing and checking can never drift apart.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from panlearn.credentials.verify import (
    CRYPTOSUITE,
    ED25519_PRIV_PREFIX,
    PROOF_PURPOSE,
    PROOF_TYPE,
    hash_data,
    multibase_decode,
    multibase_encode,
)


def xsd_datetime(moment: datetime) -> str:
    """A UTC date-time as VC documents write it: second precision, 'Z'."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def private_key_from_multibase(text: str) -> Ed25519PrivateKey:
    """An Ed25519 private key from its Multikey form ('z3u2…'); used by test vectors."""
    data = multibase_decode(text)
    if not data.startswith(ED25519_PRIV_PREFIX) or len(data) != 34:
        raise ValueError("not an Ed25519 Multikey private key")
    return Ed25519PrivateKey.from_private_bytes(data[2:])


def sign_credential(credential: Mapping[str, Any], private_key: Ed25519PrivateKey, *,
                    verification_method: str, created: datetime) -> dict[str, Any]:
    """Return a copy of `credential` with a DataIntegrityProof (eddsa-jcs-2022).

    Per the cryptosuite, the proof options carry the document's `@context`, so
    the signature also covers the vocabulary the document is read with.
    """
    document = copy.deepcopy(dict(credential))
    document.pop("proof", None)
    options: dict[str, Any] = {
        "type": PROOF_TYPE,
        "cryptosuite": CRYPTOSUITE,
        "created": xsd_datetime(created),
        "verificationMethod": verification_method,
        "proofPurpose": PROOF_PURPOSE,
    }
    if "@context" in document:
        options["@context"] = copy.deepcopy(document["@context"])
    signature = private_key.sign(hash_data(document, options))
    document["proof"] = {**options, "proofValue": multibase_encode(signature)}
    return document

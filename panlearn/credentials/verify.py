"""Verify a panlearn credential offline: the document and the organisation's public key only.

A credential carries a W3C Data Integrity proof with the `eddsa-jcs-2022`
cryptosuite: the proof options and the credential (without its proof) are each
canonicalised with the JSON Canonicalization Scheme (RFC 8785), hashed with
SHA-256, and the two hashes (proof options first) are signed with Ed25519. The
signature is the `proofValue`, base58btc-multibase encoded.

This module deliberately imports nothing from panlearn, Flask or the database
(only `cryptography` and `rfc8785`), so a user office can copy it, or run
``python -m panlearn.credentials.verify credential.json keys.json``, and check
a credential with the organisation's published key alone. Revocation is the one
thing it cannot know offline: ask ``GET /api/credentials/<id>/verify`` for that.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

CRYPTOSUITE = "eddsa-jcs-2022"
PROOF_TYPE = "DataIntegrityProof"
PROOF_PURPOSE = "assertionMethod"
#: Multicodec prefixes (varint) of Ed25519 public and private keys in a Multikey.
ED25519_PUB_PREFIX = b"\xed\x01"
ED25519_PRIV_PREFIX = b"\x80\x26"

_B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {char: index for index, char in enumerate(_B58_ALPHABET)}

#: What a caller may pass as the key: a Multikey string ("z6Mk…"), raw 32 bytes, a
#: `cryptography` key, a JWK, or a whole keys document (`GET /api/organisations/<slug>/keys`).
PublicKeyLike = str | bytes | Ed25519PublicKey | Mapping[str, Any]


@dataclass
class VerificationResult:
    """The outcome of checking one credential's proof; `errors` say what failed."""

    verified: bool
    errors: list[str] = field(default_factory=list)
    issuer: dict[str, Any] | None = None
    verification_method: str | None = None


def b58encode(data: bytes) -> str:
    """Base58 (Bitcoin alphabet); leading zero bytes become leading '1's."""
    number = int.from_bytes(data, "big")
    out = []
    while number:
        number, remainder = divmod(number, 58)
        out.append(_B58_ALPHABET[remainder])
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * zeros + "".join(reversed(out))


def b58decode(text: str) -> bytes:
    """Inverse of `b58encode`; ValueError on a character outside the alphabet."""
    number = 0
    for char in text:
        if char not in _B58_INDEX:
            raise ValueError(f"not a base58 character: {char!r}")
        number = number * 58 + _B58_INDEX[char]
    zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * zeros + body


def multibase_encode(data: bytes) -> str:
    """base58btc multibase: 'z' followed by base58."""
    return "z" + b58encode(data)


def multibase_decode(text: str) -> bytes:
    """Decode a base58btc multibase string (the only base Data Integrity EdDSA uses)."""
    if not text.startswith("z"):
        raise ValueError("only base58btc multibase ('z…') is supported")
    return b58decode(text[1:])


def public_key_multibase(raw: bytes) -> str:
    """An Ed25519 public key as a Multikey `publicKeyMultibase` ('z6Mk…')."""
    return multibase_encode(ED25519_PUB_PREFIX + raw)


def public_key_from_multibase(text: str) -> Ed25519PublicKey:
    """An Ed25519 public key from its Multikey form."""
    data = multibase_decode(text)
    if not data.startswith(ED25519_PUB_PREFIX) or len(data) != 34:
        raise ValueError("not an Ed25519 Multikey public key")
    return Ed25519PublicKey.from_public_bytes(data[2:])


def canonicalize(value: Any) -> bytes:
    """RFC 8785 JSON Canonicalization Scheme (sorted keys, ES6 numbers, UTF-8)."""
    return rfc8785.dumps(value)


def hash_data(document: Mapping[str, Any], proof_options: Mapping[str, Any]) -> bytes:
    """What eddsa-jcs-2022 signs: sha256(JCS(proof options)) + sha256(JCS(document))."""
    return (hashlib.sha256(canonicalize(proof_options)).digest()
            + hashlib.sha256(canonicalize(document)).digest())


def _jwk_to_key(jwk: Mapping[str, Any]) -> Ed25519PublicKey:
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519" or "x" not in jwk:
        raise ValueError("not an Ed25519 JWK (kty OKP, crv Ed25519)")
    raw = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
    return Ed25519PublicKey.from_public_bytes(raw)


def _method_to_key(method: Mapping[str, Any]) -> Ed25519PublicKey:
    if "publicKeyMultibase" in method:
        return public_key_from_multibase(method["publicKeyMultibase"])
    if "publicKeyJwk" in method:
        return _jwk_to_key(method["publicKeyJwk"])
    return _jwk_to_key(method)


def resolve_public_key(key: PublicKeyLike, verification_method: str) -> Ed25519PublicKey:
    """The key to check a proof with, picked from a keys document when one is given."""
    if isinstance(key, Ed25519PublicKey):
        return key
    if isinstance(key, bytes):
        return Ed25519PublicKey.from_public_bytes(key)
    if isinstance(key, str):
        return public_key_from_multibase(key)
    methods: Sequence[Mapping[str, Any]] | None = None
    if "verificationMethod" in key:
        methods = key["verificationMethod"]
    elif "keys" in key:
        methods = key["keys"]
    if methods is None:
        return _method_to_key(key)
    fragment = verification_method.rpartition("#")[2]
    for method in methods:
        if method.get("id") == verification_method or method.get("kid") in (
                verification_method, fragment) or method.get("publicKeyMultibase") == fragment:
            return _method_to_key(method)
    raise ValueError(f"the keys document has no key {verification_method!r}")


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def verify_credential(credential: Mapping[str, Any] | str | bytes, public_key: PublicKeyLike,
                      *, now: datetime | None = None) -> VerificationResult:
    """Check the credential's eddsa-jcs-2022 proof with `public_key` and its validity dates.

    Follows the verification algorithm of the W3C "Data Integrity EdDSA
    Cryptosuites v1.0": the proof's `@context` must prefix the document's; the
    proof options are the proof without `proofValue`; both are canonicalised,
    hashed and checked against the Ed25519 signature.
    """
    errors: list[str] = []
    if isinstance(credential, bytes | str):
        try:
            credential = json.loads(credential)
        except ValueError as error:
            return VerificationResult(False, [f"not JSON: {error}"])
    if not isinstance(credential, Mapping):
        return VerificationResult(False, ["a credential is a JSON object"])
    issuer = credential.get("issuer")
    issuer_info = issuer if isinstance(issuer, dict) else ({"id": issuer} if issuer else None)
    proof = credential.get("proof")
    if not isinstance(proof, Mapping):
        return VerificationResult(False, ["the credential has no single proof object"],
                                  issuer_info)
    method = proof.get("verificationMethod")
    result = VerificationResult(False, errors, issuer_info,
                                method if isinstance(method, str) else None)
    if proof.get("type") != PROOF_TYPE:
        errors.append(f"proof type is not {PROOF_TYPE}")
    if proof.get("cryptosuite") != CRYPTOSUITE:
        errors.append(f"cryptosuite is not {CRYPTOSUITE}")
    if proof.get("proofPurpose") != PROOF_PURPOSE:
        errors.append(f"proof purpose is not {PROOF_PURPOSE}")
    if not isinstance(method, str) or not method:
        errors.append("the proof names no verificationMethod")
    proof_value = proof.get("proofValue")
    if not isinstance(proof_value, str):
        errors.append("the proof has no proofValue")
    if errors:
        return result
    document = {name: value for name, value in credential.items() if name != "proof"}
    options = {name: value for name, value in proof.items() if name != "proofValue"}
    if "@context" in options:
        wanted = options["@context"]
        wanted = wanted if isinstance(wanted, list) else [wanted]
        have = document.get("@context")
        have = have if isinstance(have, list) else [have]
        if have[:len(wanted)] != wanted:
            errors.append("the proof's @context does not match the credential's")
            return result
        document["@context"] = options["@context"]
    try:
        key = resolve_public_key(public_key, method)
        signature = multibase_decode(proof_value)
    except ValueError as error:
        errors.append(str(error))
        return result
    try:
        key.verify(signature, hash_data(document, options))
    except InvalidSignature:
        errors.append("the signature does not match: the credential was changed or "
                      "signed with another key")
        return result
    except (TypeError, ValueError) as error:  # unserialisable values in a tampered document
        errors.append(f"the credential cannot be canonicalised: {error}")
        return result
    moment = now or datetime.now(UTC)
    valid_from = _parse_time(credential.get("validFrom"))
    if valid_from is None:
        errors.append("validFrom is missing or not a date-time")
    elif valid_from > moment:
        errors.append("the credential is not valid yet (validFrom is in the future)")
    valid_until = credential.get("validUntil")
    if valid_until is not None:
        until = _parse_time(valid_until)
        if until is None or until < moment:
            errors.append("the credential has expired (validUntil)")
    result.verified = not errors
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m panlearn.credentials.verify CREDENTIAL.json KEY` (a keys JSON file or z6Mk…)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print("usage: python -m panlearn.credentials.verify CREDENTIAL.json "
              "KEYS.json|z6Mk…", file=sys.stderr)
        return 2
    with open(args[0], "rb") as handle:
        credential = handle.read()
    key: PublicKeyLike = args[1]
    if args[1].endswith(".json"):
        with open(args[1], "rb") as handle:
            key = json.load(handle)
    result = verify_credential(credential, key)
    print(json.dumps({"verified": result.verified, "errors": result.errors,
                      "issuer": result.issuer,
                      "verificationMethod": result.verification_method}, indent=2))
    return 0 if result.verified else 1


if __name__ == "__main__":
    raise SystemExit(main())

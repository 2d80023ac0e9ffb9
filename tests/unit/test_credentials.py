"""Signing and verifying credentials: JCS, multibase, eddsa-jcs-2022, key storage (no app)."""

from __future__ import annotations

import base64
import copy
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from panlearn.credentials.keys import decrypt_private_key, encrypt_private_key
from panlearn.credentials.signing import private_key_from_multibase, sign_credential
from panlearn.credentials.verify import (
    b58decode,
    b58encode,
    canonicalize,
    public_key_multibase,
    verify_credential,
)
from tests.conftest import REPO_ROOT

# The eddsa-jcs-2022 test vector of the W3C "Data Integrity EdDSA Cryptosuites v1.0"
# (w3c/vc-di-eddsa, TestVectors/keyPair.json and TestVectors/eddsa-jcs-2022/signedJCS.json).
SPEC_PUBLIC = "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
SPEC_PRIVATE = "z3u2en7t5LR2WtQH5PfFqMqwVHBeXouLzo6haApm8XHqvjxq"
SPEC_CONTEXT = ["https://www.w3.org/ns/credentials/v2",
                "https://www.w3.org/ns/credentials/examples/v2"]
SPEC_UNSIGNED = {
    "@context": SPEC_CONTEXT,
    "id": "urn:uuid:58172aac-d8ba-11ed-83dd-0b3aef56cc33",
    "type": ["VerifiableCredential", "AlumniCredential"],
    "name": "Alumni Credential",
    "description": "A minimum viable example of an Alumni Credential.",
    "issuer": "https://vc.example/issuers/5678",
    "validFrom": "2023-01-01T00:00:00Z",
    "credentialSubject": {"id": "did:example:abcdefgh", "alumniOf": "The School of Examples"},
}
SPEC_METHOD = f"https://vc.example/issuers/5678#{SPEC_PUBLIC}"
SPEC_PROOF_VALUE = ("z63t83Y53KfzJ5ZosfKTnqfMcKB2dmTrfjSaQjeNNjAD5srBowQfmWqeRb8rRjmeEuCBEs"
                    "ddF9LsVogtuTsijJKh4")
SPEC_CREATED = datetime(2023, 2, 24, 23, 36, 38, tzinfo=UTC)


def spec_signed() -> dict:
    return {**copy.deepcopy(SPEC_UNSIGNED), "proof": {
        "type": "DataIntegrityProof", "cryptosuite": "eddsa-jcs-2022",
        "created": "2023-02-24T23:36:38Z", "verificationMethod": SPEC_METHOD,
        "proofPurpose": "assertionMethod", "@context": SPEC_CONTEXT,
        "proofValue": SPEC_PROOF_VALUE}}


def raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw,
                                         serialization.PublicFormat.Raw)


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def signed(key) -> dict:
    credential = {
        "@context": ["https://www.w3.org/ns/credentials/v2",
                     "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"],
        "id": "https://learn.example/api/credentials/1",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": "Neutron scattering — completed",
        "issuer": {"id": "https://learn.example/api/organisations/psi", "type": ["Profile"],
                   "name": "PSI"},
        "validFrom": "2025-01-01T00:00:00Z",
        "credentialSubject": {"type": ["AchievementSubject"], "achievement": {
            "id": "https://learn.example/courses/sans", "type": ["Achievement"],
            "name": "SANS", "description": "Small-angle scattering",
            "criteria": {"narrative": "Completed every lesson; pass mark 0.6 (60 %)."}}},
    }
    method = f"https://learn.example/api/organisations/psi#{public_key_multibase(raw_public(key))}"
    return sign_credential(credential, key, verification_method=method,
                           created=datetime(2025, 1, 1, tzinfo=UTC))


def test_the_w3c_test_vector_verifies():
    result = verify_credential(spec_signed(), SPEC_PUBLIC)
    assert result.verified, result.errors
    assert result.verification_method == SPEC_METHOD


def test_signing_the_w3c_test_vector_reproduces_its_proof_value():
    # Ed25519 is deterministic: the same key and data give the spec's exact signature.
    signed = sign_credential(SPEC_UNSIGNED, private_key_from_multibase(SPEC_PRIVATE),
                             verification_method=SPEC_METHOD, created=SPEC_CREATED)
    assert signed == spec_signed()


def test_private_and_public_multikeys_of_the_test_vector_belong_together():
    private = private_key_from_multibase(SPEC_PRIVATE)
    assert public_key_multibase(raw_public(private)) == SPEC_PUBLIC


@pytest.mark.parametrize("data", [b"", b"\0", b"\0\0\x01", b"hello world", bytes(range(256))])
def test_base58_round_trips_and_keeps_leading_zeros(data):
    assert b58decode(b58encode(data)) == data


def test_base58_known_value():
    assert b58encode(b"hello world") == "StV1DL6CwTryKyV"


def test_jcs_sorts_keys_by_utf16_and_writes_es6_numbers():
    # RFC 8785 §3.2.3: property names sort by UTF-16 code units, so U+20AC comes before
    # U+1F600 (a surrogate pair, 0xD83D…), although code points would order them the same.
    assert canonicalize({"b": 1, "a": [1.0, 1e21, 0.000001], "\U0001f600": 0, "\u20ac": "€",
                         "\ufb33": 2}) \
        == '{"a":[1,1e+21,0.000001],"b":1,"\u20ac":"\u20ac","\U0001f600":0,"\ufb33":2}'.encode()


def test_a_signed_credential_verifies_with_the_public_key_alone(key, signed):
    result = verify_credential(signed, public_key_multibase(raw_public(key)))
    assert result.verified and result.errors == []
    assert result.issuer["name"] == "PSI"


def test_whitespace_and_member_order_do_not_matter(key, signed):
    # JCS: the signature covers the data, not one serialisation of it.
    text = json.dumps(dict(reversed(list(signed.items()))), indent=4)
    assert verify_credential(text, public_key_multibase(raw_public(key))).verified


def test_changing_any_single_byte_of_the_content_breaks_the_signature(key, signed):
    public = public_key_multibase(raw_public(key))
    text = json.dumps(signed, ensure_ascii=False)
    proof_at = text.index('"proof"')
    checked = 0
    for index in range(0, proof_at, 7):  # every 7th byte of everything signed
        char = text[index]
        if not char.isalnum():
            continue  # keep the JSON well-formed: change letters and digits only
        changed = text[:index] + ("x" if char != "x" else "y") + text[index + 1:]
        assert not verify_credential(changed, public).verified, (index, changed[index - 20:][:40])
        checked += 1
    assert checked > 50


def test_a_changed_proof_value_or_another_key_fails(key, signed):
    public = public_key_multibase(raw_public(key))
    tampered = copy.deepcopy(signed)
    value = tampered["proof"]["proofValue"]
    tampered["proof"]["proofValue"] = value[:10] + ("2" if value[10] != "2" else "3") + value[11:]
    assert not verify_credential(tampered, public).verified
    other = public_key_multibase(raw_public(Ed25519PrivateKey.generate()))
    result = verify_credential(signed, other)
    assert not result.verified and "signature" in result.errors[0]


def test_a_changed_validity_date_or_context_fails(key, signed):
    public = public_key_multibase(raw_public(key))
    later = copy.deepcopy(signed)
    later["validFrom"] = "2025-01-01T00:00:01Z"
    assert not verify_credential(later, public).verified
    context = copy.deepcopy(signed)
    context["@context"] = context["@context"][:1]
    assert "@context" in verify_credential(context, public).errors[0]


def test_a_credential_valid_only_in_the_future_does_not_verify_yet(key, signed):
    public = public_key_multibase(raw_public(key))
    result = verify_credential(signed, public, now=datetime(2024, 12, 31, tzinfo=UTC))
    assert not result.verified and "not valid yet" in result.errors[0]
    assert verify_credential(signed, public, now=datetime.now(UTC) + timedelta(days=3650))\
        .verified


def test_wrong_suite_or_purpose_is_refused(key, signed):
    public = public_key_multibase(raw_public(key))
    for member, value in (("cryptosuite", "eddsa-rdfc-2022"), ("proofPurpose", "authentication"),
                          ("type", "Ed25519Signature2020")):
        changed = copy.deepcopy(signed)
        changed["proof"][member] = value
        assert not verify_credential(changed, public).verified, member


def test_keys_may_be_given_as_jwk_raw_bytes_or_a_keys_document(key, signed):
    raw = raw_public(key)
    jwk = {"kty": "OKP", "crv": "Ed25519",
           "x": base64.urlsafe_b64encode(raw).rstrip(b"=").decode()}
    assert verify_credential(signed, jwk).verified
    assert verify_credential(signed, raw).verified
    method = signed["proof"]["verificationMethod"]
    document = {"verificationMethod": [
        {"id": "https://learn.example/api/organisations/psi#zOther", "type": "Multikey",
         "publicKeyMultibase": public_key_multibase(raw_public(Ed25519PrivateKey.generate()))},
        {"id": method, "type": "Multikey", "publicKeyMultibase": public_key_multibase(raw)}]}
    assert verify_credential(signed, document).verified
    assert verify_credential(signed, {"keys": [{**jwk, "kid": method}]}).verified


def test_garbage_is_reported_not_raised(key):
    public = public_key_multibase(raw_public(key))
    assert verify_credential("not json", public).errors[0].startswith("not JSON")
    assert not verify_credential({"proof": []}, public).verified
    assert not verify_credential({"proof": {"type": "DataIntegrityProof"}}, public).verified


def test_the_verifier_runs_as_a_standalone_script(tmp_path, key, signed):
    # A user office copies the one file and runs it: no panlearn, no Flask imports.
    script = tmp_path / "verify.py"
    script.write_text((REPO_ROOT / "panlearn" / "credentials" / "verify.py").read_text())
    credential = tmp_path / "credential.json"
    credential.write_text(json.dumps(signed))
    public = public_key_multibase(raw_public(key))
    ok = subprocess.run([sys.executable, "-I", str(script), str(credential), public],
                        capture_output=True, text=True, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["verified"] is True
    credential.write_text(json.dumps(signed).replace("PSI", "PSJ"))
    bad = subprocess.run([sys.executable, "-I", str(script), str(credential), public],
                         capture_output=True, text=True, cwd=tmp_path)
    assert bad.returncode == 1 and json.loads(bad.stdout)["verified"] is False


def test_private_keys_are_stored_encrypted_and_bound_to_their_row():
    private = Ed25519PrivateKey.generate()
    public = public_key_multibase(raw_public(private))
    blob = encrypt_private_key(private, "s3cret", organisation_id=1, public_multibase=public)
    raw = private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                serialization.NoEncryption())
    assert raw not in blob
    again = decrypt_private_key(blob, "s3cret", organisation_id=1, public_multibase=public)
    assert raw_public(again) == raw_public(private)
    with pytest.raises(InvalidTag):
        decrypt_private_key(blob, "another secret", organisation_id=1, public_multibase=public)
    with pytest.raises(InvalidTag):
        decrypt_private_key(blob, "s3cret", organisation_id=2, public_multibase=public)

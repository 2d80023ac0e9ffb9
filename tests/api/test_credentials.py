"""Completion credentials through the API: content, offline and online verification, revocation."""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import select

from panlearn.credentials.verify import verify_credential
from panlearn.extensions import db
from panlearn.models import OrganisationKey
from tests.api.test_progress import complete_course
from tests.builders import make_user, token_for


def issued(app, client, catalogue) -> tuple[str, dict]:
    """Complete the `published` course as `student`; the credential id and its document."""
    progress = complete_course(app, client, catalogue["student"])
    credential_id = progress["credential"]["id"]
    response = client.get(f"/api/credentials/{credential_id}", headers=catalogue["student"])
    assert response.status_code == 200, response.get_json()
    assert response.mimetype == "application/ld+json"
    return credential_id, json.loads(response.get_data())


def test_the_credential_is_an_open_badges_3_achievement_credential(app, client, catalogue):
    credential_id, document = issued(app, client, catalogue)
    assert document["@context"] == [
        "https://www.w3.org/ns/credentials/v2",
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"]
    assert document["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert document["id"].endswith(f"/api/credentials/{credential_id}")
    issuer = document["issuer"]
    assert issuer["id"].endswith("/api/organisations/psi") and issuer["name"] == "PSI"
    assert issuer["type"] == ["Profile"]
    assert document["validFrom"].endswith("Z")
    subject = document["credentialSubject"]
    assert subject["type"] == ["AchievementSubject"]
    achievement = subject["achievement"]
    assert achievement["type"] == ["Achievement"] and achievement["name"] == "Course published"
    assert achievement["description"] == "Powder diffraction for beginners."
    assert "60%" in achievement["criteria"]["narrative"]
    # The learner is named only by a salted hash of their username, which they can prove.
    [identity] = subject["identifier"]
    assert identity["hashed"] is True and "student" not in json.dumps(subject)
    assert identity["identityHash"] == "sha256$" + hashlib.sha256(
        ("student" + identity["salt"]).encode()).hexdigest()
    proof = document["proof"]
    assert (proof["type"], proof["cryptosuite"], proof["proofPurpose"]) == (
        "DataIntegrityProof", "eddsa-jcs-2022", "assertionMethod")
    assert proof["verificationMethod"].startswith(issuer["id"] + "#z6Mk")
    assert proof["proofValue"].startswith("z")


def test_it_verifies_offline_with_the_published_public_key_alone(app, client, catalogue):
    _, document = issued(app, client, catalogue)
    keys = client.get("/api/organisations/psi/keys")  # no sign-in needed
    assert keys.status_code == 200
    keys_document = json.loads(keys.get_data())
    [method] = keys_document["verificationMethod"]
    assert method["type"] == "Multikey" and method["id"] == document["proof"]["verificationMethod"]
    assert keys_document["assertionMethod"] == [method["id"]]
    [jwk] = keys_document["keys"]
    assert (jwk["kty"], jwk["crv"], jwk["kid"]) == ("OKP", "Ed25519", method["id"])
    assert "d" not in jwk  # never the private part
    # The issuer id resolves to the same profile with its keys.
    profile = client.get("/api/organisations/psi")
    assert json.loads(profile.get_data())["verificationMethod"] == [method]

    for key in (method["publicKeyMultibase"], keys_document, jwk):
        result = verify_credential(document, key)
        assert result.verified, result.errors
    # One byte changed anywhere in what was signed: no longer valid.
    text = json.dumps(document)
    changed = text.replace('"Course published"', '"Course publishes"', 1)
    assert changed != text
    assert not verify_credential(changed, method["publicKeyMultibase"]).verified


def test_anyone_can_verify_online_and_revocation_shows(app, client, catalogue):
    credential_id, document = issued(app, client, catalogue)
    url = f"/api/credentials/{credential_id}/verify"
    body = client.get(url).get_json()  # anonymous
    assert (body["verified"], body["revoked"], body["errors"]) == (True, False, [])
    assert body["issuer"]["name"] == "PSI" and body["credential_id"] == credential_id

    assert client.post(f"/api/credentials/{credential_id}/revoke", json={"reason": "x"},
                       headers=catalogue["student"]).status_code == 403
    assert client.post(f"/api/credentials/{credential_id}/revoke",
                       headers=catalogue["ess-author"]).status_code == 404
    assert client.post(f"/api/credentials/{credential_id}/revoke").status_code == 401
    revoked = client.post(f"/api/credentials/{credential_id}/revoke",
                          json={"reason": "Completed by someone else"},
                          headers=catalogue["author"])
    assert revoked.status_code == 200, revoked.get_json()
    assert revoked.get_json()["revoked_at"] is not None
    again = client.post(f"/api/credentials/{credential_id}/revoke", headers=catalogue["admin"])
    assert again.get_json()["revoked_at"] == revoked.get_json()["revoked_at"]  # idempotent

    after = client.get(url).get_json()
    assert (after["verified"], after["revoked"]) == (True, True)  # authentic, but withdrawn
    assert after["revocation_reason"] == "Completed by someone else"
    handed = client.post("/api/credentials/verify", json=document).get_json()
    assert (handed["verified"], handed["revoked"]) == (True, True)
    [course] = client.get("/api/me/progress", headers=catalogue["student"]).get_json()["items"]
    assert course["credential"]["revoked"] is True


def test_a_handed_over_credential_is_checked_against_the_published_keys(
        app, client, catalogue):
    credential_id, document = issued(app, client, catalogue)
    good = client.post("/api/credentials/verify", json=document)
    assert good.status_code == 200
    assert good.get_json()["verified"] is True and good.get_json()["credential_id"] == credential_id
    tampered = json.loads(json.dumps(document))
    tampered["credentialSubject"]["achievement"]["name"] = "Beamline safety"
    bad = client.post("/api/credentials/verify", json=tampered).get_json()
    assert bad["verified"] is False and any("signature" in e for e in bad["errors"])
    forged = json.loads(json.dumps(document))
    forged["proof"]["verificationMethod"] = forged["issuer"]["id"] + "#z6MkUnknown"
    assert client.post("/api/credentials/verify", json=forged).get_json()["verified"] is False
    missing = client.post("/api/credentials/verify", json={"issuer": "x"})
    assert missing.status_code == 422


def test_only_the_holder_and_the_issuing_organisation_download_it(app, client, catalogue):
    credential_id, _ = issued(app, client, catalogue)
    url = f"/api/credentials/{credential_id}"
    make_user(app, "other")
    assert client.get(url).status_code == 401
    assert client.get(url, headers=token_for(client, "other")).status_code == 404
    assert client.get(url, headers=catalogue["ess-author"]).status_code == 404
    assert client.get(url, headers=catalogue["author"]).status_code == 200
    assert client.get(url, headers=catalogue["admin"]).status_code == 200
    assert client.get("/api/credentials/no-such-id/verify").status_code == 404


def test_a_new_secret_key_makes_a_new_signing_key_and_old_credentials_still_verify(
        app, client, catalogue):
    credential_id, first = issued(app, client, catalogue)
    app.config["PANLEARN"]["SECRET_KEY"] = "rotated " * 8
    make_user(app, "second")
    second_headers = token_for(client, "second")
    progress = complete_course(app, client, second_headers, username="second")
    second = json.loads(client.get(progress["credential"]["url"], headers=second_headers)
                        .get_data())
    assert second["proof"]["verificationMethod"] != first["proof"]["verificationMethod"]
    keys = json.loads(client.get("/api/organisations/psi/keys").get_data())
    assert len(keys["verificationMethod"]) == 2 and "retired" in keys["verificationMethod"][0]
    assert verify_credential(first, keys).verified and verify_credential(second, keys).verified
    assert client.get(f"/api/credentials/{credential_id}/verify").get_json()["verified"] is True
    with app.app_context():
        records = db.session.scalars(select(OrganisationKey)).all()
        assert all(len(record.private_key_encrypted) > 32 for record in records)


def test_keys_of_an_unknown_organisation_are_404_and_of_a_new_one_empty(client, catalogue):
    assert client.get("/api/organisations/nope/keys").status_code == 404
    keys = json.loads(client.get("/api/organisations/ess/keys").get_data())
    assert keys["verificationMethod"] == [] and keys["keys"] == []

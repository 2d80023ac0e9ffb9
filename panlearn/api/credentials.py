"""Completion credentials: download, verify (anyone), revoke; organisations' public keys."""

from __future__ import annotations

from typing import Any

from flask import Response, json
from flask_smorest import Blueprint

from panlearn.api.identity import current_user
from panlearn.credentials.service import (
    CheckOutcome,
    IssuerConfig,
    check_credential,
    check_document,
    get_credential,
    list_credentials,
    organisation_keys_document,
    revoke_credential,
)
from panlearn.extensions import db
from panlearn.models import Credential
from panlearn.schemas.credentials import (
    CredentialDocumentSchema,
    CredentialListSchema,
    CredentialSummarySchema,
    RevokeSchema,
    VerificationSchema,
)
from panlearn.wiring import services

bp = Blueprint("credentials", __name__, url_prefix="/api",
               description="Completion credentials (Open Badges 3.0)")

JSON_LD = "application/ld+json"


def _issuer() -> IssuerConfig:
    return services().issuer


def present(credential: Credential) -> dict[str, Any]:
    """The fields of `CredentialSummarySchema`."""
    version = credential.course_version
    achievement = credential.document["credentialSubject"]["achievement"]
    return {
        "id": credential.id,
        "course": version.course.slug if version else None,
        "version_number": version.number if version else None,
        "title": achievement["name"],
        "organisation": credential.organisation.slug,
        "issued_at": credential.issued_at,
        "revoked_at": credential.revoked_at,
        "revocation_reason": credential.revocation_reason,
        "url": f"/api/credentials/{credential.id}",
        "verify_url": f"/api/credentials/{credential.id}/verify",
        "page_url": f"/credentials/{credential.id}",
    }


def _verification(outcome: CheckOutcome) -> dict[str, Any]:
    return vars(outcome)


@bp.route("/me/credentials")
@bp.response(200, CredentialListSchema)
@bp.doc(security=[{"bearer": []}])
def mine() -> dict[str, Any]:
    """Your completion credentials, newest first."""
    return {"items": [present(c) for c in list_credentials(db.session, current_user())]}


@bp.route("/credentials/<credential_id>")
@bp.response(200, content_type=JSON_LD, description="The signed OpenBadgeCredential.")
@bp.doc(security=[{"bearer": []}])
def download(credential_id: str) -> Response:
    """The signed credential as JSON-LD (its holder and the issuing organisation's staff)."""
    credential = get_credential(db.session, credential_id, current_user())
    return Response(json.dumps(credential.document, indent=2, ensure_ascii=False),
                    mimetype=JSON_LD, headers={
                        "Content-Disposition": f'attachment; filename="credential-'
                                               f'{credential.id}.jsonld"'})


@bp.route("/credentials/<credential_id>/verify")
@bp.response(200, VerificationSchema)
def verify(credential_id: str) -> dict[str, Any]:
    """Check a credential issued here: signature, dates and revocation. Open to anyone."""
    return _verification(check_credential(db.session, credential_id))


@bp.route("/credentials/verify", methods=["POST"])
@bp.arguments(CredentialDocumentSchema)
@bp.response(200, VerificationSchema)
def verify_document(document: dict[str, Any]) -> dict[str, Any]:
    """Check a credential you were handed (the JSON-LD as the body). Open to anyone."""
    return _verification(check_document(db.session, document))


@bp.route("/credentials/<credential_id>/revoke", methods=["POST"])
@bp.arguments(RevokeSchema, required=False)
@bp.response(200, CredentialSummarySchema)
@bp.doc(security=[{"bearer": []}])
def revoke(args: dict[str, Any], credential_id: str) -> dict[str, Any]:
    """Revoke a credential (the issuing organisation's authors and admins); idempotent."""
    return present(revoke_credential(db.session, credential_id, current_user(),
                                     args.get("reason")))


@bp.route("/organisations/<slug>/keys")
@bp.response(200, content_type=JSON_LD,
             description="Multikey verification methods and a JWK set.")
def keys(slug: str) -> Response:
    """The organisation's public keys, for verifying its credentials offline."""
    return _json_ld(organisation_keys_document(db.session, slug, config=_issuer()))


@bp.route("/organisations/<slug>")
@bp.response(200, content_type=JSON_LD,
             description="The issuer profile: the `issuer.id` of the organisation's "
                         "credentials, with its keys.")
def issuer_profile(slug: str) -> Response:
    """The organisation as credential issuer (profile and keys, one document)."""
    return _json_ld(organisation_keys_document(db.session, slug, config=_issuer()))


def _json_ld(document: dict[str, Any]) -> Response:
    return Response(json.dumps(document, indent=2, ensure_ascii=False), mimetype=JSON_LD)

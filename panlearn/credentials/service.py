"""Credentials as use cases: issue one on completion, show it, verify it, revoke it.

Who may do what: a credential's holder and the issuing organisation's authors
and admins may download it; anyone may verify it (that is its point); only the
organisation's authors and admins may revoke it. Verification checks the
signature with the organisation's published key exactly as an offline verifier
would (`verify.verify_credential`), then adds what only the platform knows:
whether the credential was revoked.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from panlearn.credentials.badges import achievement_credential
from panlearn.credentials.keys import (
    issuer_id,
    keys_document,
    organisation_keys,
    signing_key,
    verification_method_id,
)
from panlearn.credentials.signing import sign_credential
from panlearn.credentials.verify import verify_credential
from panlearn.errors import ForbiddenError, InvalidInputError, NotFoundError, UnauthorizedError
from panlearn.models import (
    CourseVersion,
    Credential,
    LessonKind,
    Organisation,
    OrganisationKey,
    Role,
    User,
    utcnow,
)

#: Used for identifiers in credentials when PANLEARN_PUBLIC_URL is not set (development).
DEFAULT_PUBLIC_URL = "http://localhost:5000"


@dataclass(frozen=True)
class IssuerConfig:
    """What issuing needs: the public base URL that ids point to, and the key-unlocking secret.

    The base URL is the same in request threads and grading workers (it never
    comes from a request's Host header), so every credential of an instance
    names its issuer the same way.
    """

    base_url: str
    secret_key: str


def issuer_config(settings: Mapping[str, Any]) -> IssuerConfig:
    """The issuer configuration from the app's settings (`app.config["PANLEARN"]`)."""
    base = settings.get("PUBLIC_URL") or DEFAULT_PUBLIC_URL
    return IssuerConfig(base_url=str(base).rstrip("/"), secret_key=settings["SECRET_KEY"])


@dataclass
class CheckOutcome:
    """The answer of the verify endpoints."""

    verified: bool
    revoked: bool
    issuer: dict[str, Any] | None
    errors: list[str] = field(default_factory=list)
    credential_id: str | None = None
    issued_at: datetime | None = None
    revoked_at: datetime | None = None
    revocation_reason: str | None = None


def credential_url(base_url: str, credential_id: str) -> str:
    """The credential's `id`: where its holder downloads it."""
    return f"{base_url}/api/credentials/{credential_id}"


def issue_credential(session: Session, user: User, version: CourseVersion, *,
                     config: IssuerConfig) -> Credential:
    """Sign and store the credential for `user` completing `version`; idempotent.

    Exactly one credential exists per learner and course version: the unique
    constraint settles a race between two workers, and the loser returns the
    winner's credential.
    """
    existing = _existing(session, user.id, version.id)
    if existing is not None:
        return existing
    organisation = version.course.organisation
    key, private = signing_key(session, organisation, config.secret_key)
    credential_id = str(uuid.uuid4())
    issued_at = utcnow()
    lessons = [lesson for module in version.modules for lesson in module.lessons]
    issuer = {"id": issuer_id(config.base_url, organisation), "type": ["Profile"],
              "name": organisation.name}
    if organisation.website:
        issuer["url"] = organisation.website
    unsigned = achievement_credential(
        credential_url=credential_url(config.base_url, credential_id), issuer=issuer,
        achievement_id=f"{config.base_url}/courses/{version.course.slug}?version="
                       f"{version.number}",
        version=version, organisation=organisation, username=user.username,
        salt=secrets.token_hex(8), issued_at=issued_at,
        readings=sum(lesson.kind == LessonKind.READING for lesson in lessons),
        exercises=sum(lesson.kind == LessonKind.EXERCISE for lesson in lessons),
    )
    document = sign_credential(
        unsigned, private, verification_method=verification_method_id(
            config.base_url, organisation, key), created=issued_at)
    credential = Credential(id=credential_id, user_id=user.id, organisation_id=organisation.id,
                            course_version_id=version.id, key_id=key.id, document=document,
                            issued_at=issued_at)
    session.add(credential)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        existing = _existing(session, user.id, version.id)
        if existing is None:
            raise
        return existing
    return credential


def _existing(session: Session, user_id: int, version_id: int) -> Credential | None:
    return session.scalar(select(Credential).where(Credential.user_id == user_id,
                                                   Credential.course_version_id == version_id))


def is_issuer_staff(viewer: User | None, organisation_id: int) -> bool:
    """An author or admin of the organisation (the same rule as `permissions.is_staff_of`)."""
    return (viewer is not None and viewer.role in (Role.AUTHOR, Role.ADMIN)
            and viewer.organisation_id == organisation_id)


def get_credential(session: Session, credential_id: str, viewer: User | None) -> Credential:
    """A credential its holder, or the issuing organisation's staff, may download."""
    if viewer is None:
        raise UnauthorizedError("Sign in to download a credential; anyone may verify it at "
                                f"/api/credentials/{credential_id}/verify.")
    credential = session.get(Credential, credential_id)
    if credential is None or not (credential.user_id == viewer.id
                                  or is_issuer_staff(viewer, credential.organisation_id)):
        raise NotFoundError(f"No credential {credential_id}.")
    return credential


def list_credentials(session: Session, viewer: User | None) -> list[Credential]:
    """The viewer's own credentials, newest first."""
    if viewer is None:
        raise UnauthorizedError("Sign in to see your credentials.")
    return list(session.scalars(select(Credential).where(Credential.user_id == viewer.id)
                                .order_by(Credential.issued_at.desc())))


def revoke_credential(session: Session, credential_id: str, viewer: User | None,
                      reason: str | None = None) -> Credential:
    """Revoke a credential (the issuing organisation's authors and admins); idempotent."""
    if viewer is None:
        raise UnauthorizedError("Sign in as an author of the issuing organisation.")
    credential = session.get(Credential, credential_id)
    if credential is None:
        raise NotFoundError(f"No credential {credential_id}.")
    if not is_issuer_staff(viewer, credential.organisation_id):
        if credential.user_id == viewer.id:
            raise ForbiddenError("Only the issuing organisation may revoke a credential.")
        raise NotFoundError(f"No credential {credential_id}.")
    if credential.revoked_at is None:
        credential.revoked_at = utcnow()
        credential.revoked_by_id = viewer.id
        credential.revocation_reason = reason
        session.commit()
    return credential


def _outcome(credential: Credential | None, document: Mapping[str, Any],
             key: OrganisationKey | None, errors: list[str]) -> CheckOutcome:
    if key is not None:
        result = verify_credential(document, key.public_key_multibase)
        errors = errors + result.errors
        issuer = result.issuer
    else:
        issuer = document.get("issuer") if isinstance(document.get("issuer"), dict) else None
    revoked = credential is not None and credential.revoked_at is not None
    return CheckOutcome(
        verified=not errors and key is not None, revoked=revoked, issuer=issuer, errors=errors,
        credential_id=credential.id if credential else None,
        issued_at=credential.issued_at if credential else None,
        revoked_at=credential.revoked_at if credential else None,
        revocation_reason=credential.revocation_reason if credential else None)


def check_credential(session: Session, credential_id: str) -> CheckOutcome:
    """Verify a stored credential as issued (anyone may ask): signature, dates, revocation."""
    credential = session.get(Credential, credential_id)
    if credential is None:
        raise NotFoundError(f"No credential {credential_id}.")
    return _outcome(credential, credential.document, credential.key, [])


def check_document(session: Session, document: Mapping[str, Any]) -> CheckOutcome:
    """Verify a credential someone was handed, against the keys this platform published.

    The key is found by the proof's verification method; it must belong to the
    organisation named as issuer. The credential must be one issued here, so
    that its revocation status is known.
    """
    proof = document.get("proof")
    if not isinstance(proof, dict):
        raise InvalidInputError("A credential with a `proof` object is expected.",
                                errors={"proof": ["missing"]})
    method = str(proof.get("verificationMethod", ""))
    key = session.scalar(select(OrganisationKey).where(
        OrganisationKey.public_key_multibase == method.rpartition("#")[2]))
    errors: list[str] = []
    if key is None:
        errors.append("the proof's verification method is not a key published here")
    else:
        issuer = document.get("issuer")
        issuer_ref = issuer.get("id") if isinstance(issuer, dict) else issuer
        expected = f"/api/organisations/{key.organisation.slug}"
        if not (isinstance(issuer_ref, str) and issuer_ref.endswith(expected)
                and method.startswith(issuer_ref + "#")):
            errors.append("the key does not belong to the credential's issuer")
    credential_ref = str(document.get("id", "")).rstrip("/").rpartition("/")[2]
    credential = session.get(Credential, credential_ref) if credential_ref else None
    if credential is None:
        errors.append("no credential with this id was issued here")
    return _outcome(credential, document, key, errors)


def get_organisation(session: Session, slug: str) -> Organisation:
    """An organisation by slug."""
    organisation = session.scalar(select(Organisation).where(Organisation.slug == slug))
    if organisation is None:
        raise NotFoundError(f"No organisation {slug!r}.")
    return organisation


def organisation_keys_document(session: Session, slug: str, *,
                               config: IssuerConfig) -> dict[str, Any]:
    """The organisation's issuer profile with every public key it signed with."""
    organisation = get_organisation(session, slug)
    return keys_document(config.base_url, organisation, organisation_keys(session, organisation))

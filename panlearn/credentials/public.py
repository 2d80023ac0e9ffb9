"""What a credential's public page shows: the certificate in words, verified live.

Anyone who has a credential's address may read its page (the id is a random
UUID the holder shares, like the signed file): course and version,
organisation, date, and the platform's live verification with its meaning.
The learner stays as private as in the signed document, which names them only
by a salted hash of their username: the page shows the username to the holder
and to the issuing organisation's staff, and lets anyone else check a username
they were told against that hash (what a user office does at the desk).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from panlearn.credentials.badges import identity_hash
from panlearn.credentials.service import CheckOutcome, check_credential, is_issuer_staff
from panlearn.errors import NotFoundError
from panlearn.models import Credential, User


@dataclass(frozen=True)
class CredentialPage:
    """The facts of one credential, read from its signed document, and its verification."""

    credential: Credential
    outcome: CheckOutcome
    course_title: str
    course_version: str
    course_url: str | None
    description: str
    criteria: str
    organisation: str
    organisation_url: str | None
    issued_at: datetime
    #: The holder's username when the viewer may see it (the holder, the issuer's staff).
    holder: str | None
    #: True/False when the viewer asked whether a username is the holder's, else None.
    holder_check: bool | None


def _achievement(document: dict[str, Any]) -> dict[str, Any]:
    subject = document.get("credentialSubject") or {}
    achievement = subject.get("achievement") if isinstance(subject, dict) else None
    return achievement if isinstance(achievement, dict) else {}


def is_holder(credential: Credential, username: str) -> bool:
    """Whether `username` is the one the credential's salted identity hash was made from."""
    subject = credential.document.get("credentialSubject") or {}
    for identity in subject.get("identifier") or []:
        if not isinstance(identity, dict) or identity.get("identityType") != "userName":
            continue
        expected = str(identity.get("identityHash", ""))
        actual = identity_hash(username.strip(), str(identity.get("salt", "")))
        if hmac.compare_digest(expected.encode(), actual.encode()):
            return True
    return False


def credential_page(session: Session, credential_id: str, viewer: User | None, *,
                    claimed_holder: str | None = None) -> CredentialPage:
    """The page of a credential for `viewer`; NotFoundError for an unknown id.

    `claimed_holder` is a username someone wants checked against the credential.
    """
    credential = session.get(Credential, credential_id)
    if credential is None:
        raise NotFoundError(f"No credential {credential_id}.")
    outcome = check_credential(session, credential_id)
    document = credential.document
    achievement = _achievement(document)
    issuer = document.get("issuer") if isinstance(document.get("issuer"), dict) else {}
    version = credential.course_version
    may_see_holder = viewer is not None and (
        viewer.id == credential.user_id
        or is_issuer_staff(viewer, credential.organisation_id))
    return CredentialPage(
        credential=credential,
        outcome=outcome,
        course_title=str(achievement.get("name") or document.get("name") or ""),
        course_version=str(achievement.get("version") or ""),
        course_url=(f"/courses/{version.course.slug}?version={version.number}"
                    if version is not None else None),
        description=str(achievement.get("description") or ""),
        criteria=str((achievement.get("criteria") or {}).get("narrative") or ""),
        organisation=str(issuer.get("name") or credential.organisation.name),
        organisation_url=issuer.get("url") or credential.organisation.website,
        issued_at=credential.issued_at,
        holder=credential.user.username if may_see_holder else None,
        holder_check=(is_holder(credential, claimed_holder)
                      if claimed_holder and claimed_holder.strip() else None),
    )

"""Open Badges 3.0 achievement credentials for completing a course version.

The credential is a W3C Verifiable Credential (data model 2.0) of type
OpenBadgeCredential: the issuer is the organisation, the achievement is the
course version the learner completed, and the learner is identified by a
salted hash of their username (an OB 3.0 IdentityObject), so the document
names nobody to a stranger while the holder can still prove it is theirs.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from panlearn.credentials.signing import xsd_datetime
from panlearn.models import CourseVersion, Organisation

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
OB_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
CREDENTIAL_TYPES = ["VerifiableCredential", "OpenBadgeCredential"]


def identity_hash(value: str, salt: str) -> str:
    """OB 3.0 `identityHash`: 'sha256$' + hex sha256 of the value followed by the salt."""
    return "sha256$" + hashlib.sha256((value + salt).encode("utf-8")).hexdigest()


def criteria_narrative(version: CourseVersion, *, readings: int, exercises: int) -> str:
    """What the learner did, in words a user office can read."""
    parts = []
    if readings:
        parts.append(f"read its {readings} reading lesson{'s' * (readings != 1)}")
    if exercises:
        parts.append(f"passed its {exercises} auto-graded exercise{'s' * (exercises != 1)} "
                     f"(at least {version.pass_mark:.0%} of the points each, checked on real "
                     "open data)")
    done = " and ".join(parts) if parts else "completed every lesson"
    return (f"Completed version {version.version} (release {version.number}) of the course "
            f"“{version.title}”: {done}.")


def achievement_credential(*, credential_url: str, issuer: dict[str, Any],
                           achievement_id: str, version: CourseVersion,
                           organisation: Organisation, username: str, salt: str,
                           issued_at: datetime, readings: int, exercises: int) -> dict[str, Any]:
    """The unsigned credential; `signing.sign_credential` adds the proof."""
    achievement: dict[str, Any] = {
        "id": achievement_id,
        "type": ["Achievement"],
        "achievementType": "Course",
        "name": version.title,
        "description": version.summary or version.title,
        "criteria": {"narrative": criteria_narrative(version, readings=readings,
                                                     exercises=exercises)},
        "creator": issuer,
        "version": version.version,
        "inLanguage": version.language,
    }
    if version.techniques:
        achievement["tag"] = list(version.techniques)
    return {
        "@context": [VC_CONTEXT, OB_CONTEXT],
        "id": credential_url,
        "type": list(CREDENTIAL_TYPES),
        "name": f"{version.title} — completed",
        "description": f"{organisation.name} certifies that the holder completed the course "
                       f"“{version.title}” on the panlearn platform.",
        "issuer": issuer,
        "validFrom": xsd_datetime(issued_at),
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "identifier": [{
                "type": "IdentityObject",
                "identityType": "userName",
                "hashed": True,
                "identityHash": identity_hash(username, salt),
                "salt": salt,
            }],
            "achievement": achievement,
        },
    }

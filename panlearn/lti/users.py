"""LMS users become panlearn students, one account per (issuer, `sub`).

The LTI `sub` is stable per platform and user, and opaque. Launches share the
identity table of `accounts.identities` with OpenID Connect sign-in, so a
learner who also links their facility identity is one learner across both.
The account's username is derived from a hash of issuer and sub, so it
reveals nothing and two platforms never collide. Names and e-mail addresses
the platform may send are not kept: a learner's record here needs none of them.
"""

from __future__ import annotations

import hashlib

from sqlalchemy.orm import Session

from panlearn.accounts.identities import IdentityKey, NewAccount, subject_of, user_for_identity
from panlearn.models import IdentityKind, User


def lti_username(issuer: str, sub: str) -> str:
    """The username of the account of an LMS user."""
    digest = hashlib.sha256(f"{issuer}\n{sub}".encode()).hexdigest()
    return f"lti-{digest[:24]}"


def user_for_launch(session: Session, issuer: str, sub: str) -> User:
    """The account of (issuer, sub), created as a student on first launch."""
    user, _ = user_for_identity(session, IdentityKey(issuer, sub, IdentityKind.LTI),
                                NewAccount(username=lti_username(issuer, sub)))
    return user


def sub_of(session: Session, issuer: str, user_id: int) -> str | None:
    """The LTI `sub` of a panlearn user on a platform, if they ever launched from it."""
    return subject_of(session, issuer, user_id)

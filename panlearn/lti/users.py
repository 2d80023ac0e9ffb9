"""LMS users become panlearn students, one account per (issuer, `sub`).

The LTI `sub` is stable per platform and user, and opaque; the account's
username is derived from a hash of both, so it reveals nothing and two
platforms never collide. Names and e-mail addresses the platform may send are
not kept: a learner's record here needs none of them.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from panlearn.accounts.service import create_user
from panlearn.errors import ConflictError, ForbiddenError
from panlearn.models import LtiUser, Role, User


def lti_username(issuer: str, sub: str) -> str:
    """The username of the account of an LMS user."""
    digest = hashlib.sha256(f"{issuer}\n{sub}".encode()).hexdigest()
    return f"lti-{digest[:24]}"


def user_for_launch(session: Session, issuer: str, sub: str) -> User:
    """The account of (issuer, sub), created as a student on first launch."""
    link = session.scalar(select(LtiUser).where(LtiUser.issuer == issuer, LtiUser.sub == sub))
    if link is None:
        try:
            # Nobody knows this password: the account signs in through its LMS only.
            user = create_user(session, lti_username(issuer, sub), secrets.token_urlsafe(32),
                               role=Role.STUDENT)
            session.add(LtiUser(issuer=issuer, sub=sub, user=user))
            session.commit()
            return user
        except (IntegrityError, ConflictError):
            # Two first launches raced; the other one linked the account first.
            session.rollback()
            link = session.scalar(select(LtiUser).where(LtiUser.issuer == issuer,
                                                        LtiUser.sub == sub))
            if link is None:
                # The account was made but not linked (a crash between the commits).
                user = session.scalar(select(User).where(
                    User.username == lti_username(issuer, sub)))
                if user is None:
                    raise
                session.add(LtiUser(issuer=issuer, sub=sub, user=user))
                session.commit()
                return _active(user)
    return _active(link.user)


def sub_of(session: Session, issuer: str, user_id: int) -> str | None:
    """The LTI `sub` of a panlearn user on a platform, if they ever launched from it."""
    return session.scalar(select(LtiUser.sub).where(LtiUser.issuer == issuer,
                                                    LtiUser.user_id == user_id))


def _active(user: User) -> User:
    if not user.is_active:
        raise ForbiddenError("This account is disabled.")
    return user

"""Identities: the accounts of people known elsewhere, by issuer and subject (`sub`).

An LMS launch (LTI 1.3) and an OpenID Connect sign-in both name a person by
the issuer that vouches for them and that issuer's stable `sub`. Both come
through here, to the one `Identity` table: the first time (issuer, sub) is
seen an account is made for it, every later time finds the same account,
and a signed-in person may link more identities to their account. E-mail
addresses are kept for people to read and, where an operator allows it, to
find an existing account to link; they never identify anyone by themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from panlearn.accounts.service import NO_PASSWORD, available_username, has_password
from panlearn.errors import ConflictError, ForbiddenError, NotFoundError
from panlearn.models import Identity, IdentityKind, Role, User, utcnow

#: Tries at making a first account when concurrent sign-ins take the same username.
_CREATE_TRIES = 3


@dataclass(frozen=True)
class NewAccount:
    """What a first sign-in knows to make an account with."""

    username: str
    email: str | None = None
    display_name: str | None = None


@dataclass(frozen=True)
class IdentityKey:
    """Who vouches (`issuer`) for whom (`sub`), and how they reached panlearn."""

    issuer: str
    sub: str
    kind: IdentityKind
    provider: str | None = None


def find_identity(session: Session, issuer: str, sub: str) -> Identity | None:
    """The identity (issuer, sub), if anyone ever came with it."""
    return session.scalar(select(Identity).where(Identity.issuer == issuer,
                                                 Identity.sub == sub))


def user_for_identity(session: Session, key: IdentityKey, account: NewAccount
                      ) -> tuple[User, bool]:
    """The account of (issuer, sub) and whether it was made now, as a student, on first sight.

    The account and its identity are committed together, so no crash leaves an
    account nobody can reach; of two concurrent first sign-ins one makes the
    account and the other finds it.
    """
    for _ in range(_CREATE_TRIES):
        identity = find_identity(session, key.issuer, key.sub)
        if identity is not None:
            identity.last_used_at = utcnow()
            session.commit()
            return active(identity.user), False
        user = User(username=available_username(session, account.username),
                    password_hash=NO_PASSWORD, role=Role.STUDENT,
                    email=account.email.lower() if account.email else None,
                    display_name=account.display_name)
        session.add(user)
        session.add(Identity(issuer=key.issuer, sub=key.sub, kind=key.kind,
                             provider=key.provider, user=user, last_used_at=utcnow()))
        try:
            session.commit()
        except IntegrityError:
            # Another sign-in took the identity or the username first: look again.
            session.rollback()
            continue
        return user, True
    raise ConflictError("The account could not be made; please try again.")


def link_identity(session: Session, user: User, key: IdentityKey) -> Identity:
    """Add (issuer, sub) to `user`'s ways in; refused if it is another account's."""
    identity = find_identity(session, key.issuer, key.sub)
    if identity is not None and identity.user_id != user.id:
        raise ConflictError("That identity is already linked to another panlearn account.")
    if identity is None:
        identity = Identity(issuer=key.issuer, sub=key.sub, kind=key.kind,
                            provider=key.provider, user=user)
        session.add(identity)
    identity.last_used_at = utcnow()
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise ConflictError("That identity is already linked to another panlearn "
                            "account.") from None
    return identity


def unlink_identity(session: Session, user: User, identity_id: int) -> None:
    """Remove one of `user`'s sign-in identities, unless it is their only way in.

    LMS identities stay: the LMS launches its learners into this account, and
    grades go back to the LMS through them.
    """
    identity = session.get(Identity, identity_id)
    if identity is None or identity.user_id != user.id:
        raise NotFoundError("You have no such linked identity.")
    if identity.kind == IdentityKind.LTI:
        raise ForbiddenError("An LMS link cannot be removed here: your LMS signs you in "
                             "through it and receives your grades.")
    others = [other for other in user.identities if other.id != identity.id]
    if not others and not has_password(user):
        raise ConflictError("This is your only way to sign in; link another identity "
                            "first.")
    session.delete(identity)
    session.commit()


def user_with_verified_email(session: Session, email: str) -> User | None:
    """The one account with this address, if exactly one has it."""
    users = list(session.scalars(select(User).where(
        func.lower(User.email) == email.lower()).limit(2)))
    return users[0] if len(users) == 1 else None


def subject_of(session: Session, issuer: str, user_id: int) -> str | None:
    """The `sub` by which an issuer knows a panlearn user, if it ever vouched for them."""
    return session.scalar(select(Identity.sub).where(Identity.issuer == issuer,
                                                     Identity.user_id == user_id))


def active(user: User) -> User:
    """The user, unless their account is disabled."""
    if not user.is_active:
        raise ForbiddenError("This account is disabled.")
    return user

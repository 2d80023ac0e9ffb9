"""Creating users and authenticating them by password or bearer token.

Passwords are argon2-hashed (slow on purpose); tokens are long random strings
of which only the sha256 is stored, so lookups stay fast and a database leak
reveals nothing usable. Every failed login costs the same time, whether or
not the user exists, so usernames cannot be probed by timing.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from panlearn.errors import ConflictError, InvalidInputError, NotFoundError, UnauthorizedError
from panlearn.models import ApiToken, Organisation, Role, User, utcnow

TOKEN_PREFIX = "pl_"
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{2,80}$")
MIN_PASSWORD_LENGTH = 8

_hasher = PasswordHasher()
# Verified against when the user does not exist, so both paths take as long.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class IssuedToken:
    """A token shown to its owner once; only its hash is kept."""

    token: str
    expires_at: datetime


def hash_token(token: str) -> str:
    """The stored form of a bearer token."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(
    session: Session,
    username: str,
    password: str,
    *,
    role: Role | str = Role.STUDENT,
    organisation_slug: str | None = None,
) -> User:
    """Create an account; authors need an organisation to publish under."""
    errors: dict[str, list[str]] = {}
    if not USERNAME_RE.match(username):
        errors["username"] = ["2-80 characters: letters, digits and _ . @ -"]
    if len(password) < MIN_PASSWORD_LENGTH:
        errors["password"] = [f"at least {MIN_PASSWORD_LENGTH} characters"]
    try:
        role = Role(role)
    except ValueError:
        errors["role"] = [f"one of {', '.join(r.value for r in Role)}"]
    if role == Role.AUTHOR and not organisation_slug:
        errors["organisation"] = ["an author belongs to an organisation"]
    if errors:
        raise InvalidInputError("The account could not be created.", errors=errors)
    organisation = None
    if organisation_slug:
        organisation = session.scalar(
            select(Organisation).where(Organisation.slug == organisation_slug)
        )
        if organisation is None:
            raise NotFoundError(f"No organisation {organisation_slug!r}.")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise ConflictError(f"The username {username!r} is taken.")
    user = User(
        username=username,
        password_hash=_hasher.hash(password),
        role=role,
        organisation=organisation,
    )
    session.add(user)
    session.commit()
    return user


def authenticate(session: Session, username: str, password: str) -> User:
    """Return the user for a username and password, or raise UnauthorizedError."""
    user = session.scalar(select(User).where(User.username == username))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        user = None
    if user is None or not user.is_active:
        raise UnauthorizedError("Unknown username or wrong password.")
    return user


def issue_token(session: Session, user: User, *, ttl: timedelta) -> IssuedToken:
    """Create a bearer token for `user`, valid for `ttl`."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = utcnow() + ttl
    session.add(ApiToken(user=user, token_hash=hash_token(token), expires_at=expires_at))
    session.commit()
    return IssuedToken(token=token, expires_at=expires_at)


def user_for_token(session: Session, token: str) -> User:
    """Resolve a bearer token; expired, revoked or unknown tokens are refused alike."""
    # Lookup is by the hash of a 256-bit random value: equality on the hash leaks nothing.
    record = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if (
        record is None
        or record.revoked_at is not None
        or record.expires_at <= utcnow()
        or not record.user.is_active
    ):
        raise UnauthorizedError("The token is unknown, expired or revoked.")
    return record.user


def revoke_token(session: Session, token: str) -> None:
    """Revoke a token (logout of an API client)."""
    record = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if record is not None and record.revoked_at is None:
        record.revoked_at = utcnow()
        session.commit()


def set_password(session: Session, user: User, password: str) -> None:
    """Replace a password and revoke every token issued under the old one."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInputError(
            "The password is too short.",
            errors={"password": [f"at least {MIN_PASSWORD_LENGTH} characters"]},
        )
    user.password_hash = _hasher.hash(password)
    now = utcnow()
    for record in user.tokens:
        if record.revoked_at is None:
            record.revoked_at = now
    session.commit()

"""Creating users and authenticating them by password or bearer token.

Passwords are argon2-hashed (slow on purpose); tokens are long random strings
of which only the sha256 is stored, so lookups stay fast and a database leak
reveals nothing usable. Every failed login costs the same time, whether or
not the user exists, so usernames cannot be probed by timing. Accounts made
for an LMS or an identity provider have no password at all (`NO_PASSWORD`).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from panlearn.errors import ConflictError, InvalidInputError, NotFoundError, UnauthorizedError
from panlearn.models import ApiToken, Organisation, Role, User, utcnow

TOKEN_PREFIX = "pl_"
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{2,80}$")
MIN_PASSWORD_LENGTH = 8
#: The password hash of accounts that sign in elsewhere (LMS, identity provider): argon2
#: refuses to verify it, so no password ever matches.
NO_PASSWORD = "!"
_NOT_USERNAME = re.compile(r"[^A-Za-z0-9_.@-]+")

_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verified against when the user does not exist, so both paths take as long.

    Made at the first sign-in, not at import: hashing costs a third of a second,
    which every CLI command would pay.
    """
    return _hasher.hash(secrets.token_urlsafe(16))


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
    password: str | None,
    *,
    role: Role | str = Role.STUDENT,
    organisation_slug: str | None = None,
    email: str | None = None,
    display_name: str | None = None,
) -> User:
    """Create an account; authors need an organisation to publish under.

    `password=None` makes an account without a password, which signs in through
    its LMS or identity provider only.
    """
    errors: dict[str, list[str]] = {}
    if not USERNAME_RE.match(username):
        errors["username"] = ["2-80 characters: letters, digits and _ . @ -"]
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        errors["password"] = [f"at least {MIN_PASSWORD_LENGTH} characters"]
    if email is not None and (len(email) > 254 or "@" not in email):
        errors["email"] = ["an e-mail address"]
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
        password_hash=NO_PASSWORD if password is None else _hasher.hash(password),
        role=role,
        organisation=organisation,
        email=email.lower() if email else None,
        display_name=display_name,
    )
    session.add(user)
    session.commit()
    return user


def available_username(session: Session, wanted: str) -> str:
    """A free username made from `wanted` (a provider's preferred username, an address).

    Characters a username may not hold become `-`; a taken name gets `-2`, `-3`, …
    """
    base = _NOT_USERNAME.sub("-", wanted).strip("-.")[:72] or "user"
    if len(base) < 2:
        base = f"user-{base}"
    taken = set(session.scalars(select(User.username).where(
        (User.username == base)
        | User.username.startswith(base + "-", autoescape=True))))
    if base not in taken:
        return base
    number = 2
    while f"{base}-{number}" in taken:
        number += 1
    return f"{base}-{number}"


def has_password(user: User) -> bool:
    """Whether the account can sign in with a password at all."""
    return user.password_hash != NO_PASSWORD


def authenticate(session: Session, username: str, password: str) -> User:
    """Return the user for a username and password, or raise UnauthorizedError."""
    user = session.scalar(select(User).where(User.username == username))
    try:
        _hasher.verify(user.password_hash if user else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        user = None
    if user is None or not user.is_active:
        raise UnauthorizedError("Unknown username or wrong password.")
    return user


def issue_token(session: Session, user: User, *, ttl: timedelta,
                name: str | None = None) -> IssuedToken:
    """Create a bearer token for `user`, valid for `ttl`; `name` marks a personal token."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = utcnow() + ttl
    session.add(ApiToken(user=user, token_hash=hash_token(token), expires_at=expires_at,
                         name=name))
    session.commit()
    return IssuedToken(token=token, expires_at=expires_at)


def live_tokens(session: Session, user: User) -> list[ApiToken]:
    """The user's tokens that still work, newest first."""
    return list(session.scalars(select(ApiToken).where(
        ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None),
        ApiToken.expires_at > utcnow()).order_by(ApiToken.id.desc())))


def revoke_token_of(session: Session, user: User, token_id: int) -> None:
    """Revoke one of the user's own tokens, by id (the account page's button)."""
    record = session.get(ApiToken, token_id)
    if record is None or record.user_id != user.id:
        raise NotFoundError("You have no such token.")
    if record.revoked_at is None:
        record.revoked_at = utcnow()
        session.commit()


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

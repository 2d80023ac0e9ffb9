"""Organisations and accounts: users, their identities elsewhere, sign-in state, API tokens."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    ForeignKey,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from panlearn.extensions import db
from panlearn.models.columns import UTCDateTime, enum_column, utcnow
from panlearn.roles import Role

if TYPE_CHECKING:
    from panlearn.models.courses import Course


class Organisation(db.Model):
    """A facility or institute that publishes courses."""

    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    ror_id: Mapped[str | None] = mapped_column(String(100))
    website: Mapped[str | None] = mapped_column(String(300))
    panosc_url: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    users: Mapped[list[User]] = relationship(back_populates="organisation")
    courses: Mapped[list[Course]] = relationship(back_populates="organisation")


class User(db.Model):
    """An account. Passwords are stored as argon2 hashes only."""

    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(enum_column(Role, "role"), default=Role.STUDENT)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: A name for people, from an identity provider's claims (never used to sign in).
    display_name: Mapped[str | None] = mapped_column(String(200))
    #: Lower-cased; set by an admin, or by a provider that verified it. Never an identity.
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    #: The identity provider whose claims gave the current role and organisation, or None
    #: when they were set here; only that provider's mapping may take them away again.
    role_source: Mapped[str | None] = mapped_column(String(64))

    organisation: Mapped[Organisation | None] = relationship(back_populates="users")
    tokens: Mapped[list[ApiToken]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )
    identities: Mapped[list[Identity]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="Identity.id"
    )


class IdentityKind(enum.StrEnum):
    """How an identity first reached panlearn: an LMS launch, or OpenID Connect sign-in."""

    LTI = "lti"
    OIDC = "oidc"


class Identity(db.Model):
    """A person as another system knows them: an issuer and its subject (`sub`).

    LMS launches (LTI 1.3) and OpenID Connect sign-ins both identify people by
    issuer and `sub`, so both use this one table: whichever way (issuer, sub)
    arrives, it finds the same account, and one account may have several
    identities (its LMS, UmbrellaID, the facility's Keycloak). Never keyed by
    e-mail.
    """

    __tablename__ = "user_identity"
    __table_args__ = (UniqueConstraint("issuer", "sub"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    issuer: Mapped[str] = mapped_column(String(300))
    sub: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    kind: Mapped[IdentityKind] = mapped_column(enum_column(IdentityKind, "identity_kind"))
    #: The provider's name in the identity file (OpenID Connect), for people to read.
    provider: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship(back_populates="identities")


class LoginState(db.Model):
    """What an OpenID Connect sign-in must remember between leaving and coming back.

    Authlib keeps the `state`, `nonce`, PKCE verifier and redirect URI here
    (its cache interface), and the browser's session only names them; reading
    deletes the row, so a `state` works once even when an old cookie is replayed.
    """

    __tablename__ = "login_state"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class ApiToken(db.Model):
    """A bearer token; only its sha256 is stored, so a database leak reveals no token."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: What the owner called a personal token (None: issued by `POST /api/auth/token`).
    name: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship(back_populates="tokens")

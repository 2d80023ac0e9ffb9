"""Organisations' signing keys and the credentials they issued."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from panlearn.extensions import db
from panlearn.models.columns import UTCDateTime, utcnow

if TYPE_CHECKING:
    from panlearn.models.accounts import Organisation, User
    from panlearn.models.courses import CourseVersion


class OrganisationKey(db.Model):
    """An organisation's Ed25519 signing key for credentials.

    The public key (a Multikey, base58btc multibase) is published forever, so
    credentials stay verifiable after a key is retired. The private key is
    stored only encrypted (AES-GCM under a key derived from PANLEARN_SECRET_KEY),
    so a database dump alone cannot sign anything.
    """

    __tablename__ = "organisation_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id", ondelete="CASCADE"), index=True)
    public_key_multibase: Mapped[str] = mapped_column(String(64), unique=True)
    private_key_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    organisation: Mapped[Organisation] = relationship()


class Credential(db.Model):
    """A signed Open Badges 3.0 credential for completing a course version.

    `document` is the signed JSON-LD exactly as issued; it is never changed
    (revocation is recorded beside it), so it can be re-verified at any time.
    The credential outlives the course: its version link is cleared on delete.
    """

    __tablename__ = "credential"
    __table_args__ = (UniqueConstraint("user_id", "course_version_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id", ondelete="CASCADE"), index=True)
    course_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("course_version.id", ondelete="SET NULL"))
    key_id: Mapped[int] = mapped_column(ForeignKey("organisation_key.id"))
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    revocation_reason: Mapped[str | None] = mapped_column(Text)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    organisation: Mapped[Organisation] = relationship()
    course_version: Mapped[CourseVersion | None] = relationship()
    key: Mapped[OrganisationKey] = relationship()
    revoked_by: Mapped[User | None] = relationship(foreign_keys=[revoked_by_id])

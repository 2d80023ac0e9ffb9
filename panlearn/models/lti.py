"""LTI 1.3 platforms, deployments, nonces and line items."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    JSON,
    Float,
    ForeignKey,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from panlearn.extensions import db
from panlearn.models.columns import UTCDateTime, utcnow

if TYPE_CHECKING:
    from panlearn.models.accounts import User
    from panlearn.models.courses import Exercise


class LtiPlatform(db.Model):
    """An LMS registered as an LTI 1.3 platform (one issuer may register several clients).

    The URLs are the platform's: where the OIDC login goes, where access tokens
    for its services are obtained, and where its public signing keys are.
    """

    __tablename__ = "lti_platform"
    __table_args__ = (UniqueConstraint("issuer", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    issuer: Mapped[str] = mapped_column(String(300), index=True)
    client_id: Mapped[str] = mapped_column(String(200))
    auth_login_url: Mapped[str] = mapped_column(String(500))
    auth_token_url: Mapped[str] = mapped_column(String(500))
    key_set_url: Mapped[str] = mapped_column(String(500))
    #: The `aud` of token-request assertions when the platform wants another than the token URL.
    auth_audience: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    deployments: Mapped[list[LtiDeployment]] = relationship(
        back_populates="platform", order_by="LtiDeployment.deployment_id",
        cascade="all, delete-orphan")


class LtiDeployment(db.Model):
    """A deployment of the tool on a platform; launches from unknown deployments are refused."""

    __tablename__ = "lti_deployment"
    __table_args__ = (UniqueConstraint("platform_id", "deployment_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platform.id", ondelete="CASCADE"),
                                             index=True)
    deployment_id: Mapped[str] = mapped_column(String(255))

    platform: Mapped[LtiPlatform] = relationship(back_populates="deployments")


class LtiNonce(db.Model):
    """A nonce handed out at OIDC login; a launch consumes it, so an id_token is used once."""

    __tablename__ = "lti_nonce"

    nonce: Mapped[str] = mapped_column(String(128), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class LtiLineItem(db.Model):
    """Where an exercise's score goes in an LMS gradebook for one user (from a launch).

    Remembered at each exercise launch that carries an AGS line item, so that
    grading that user's submissions posts the score there.
    """

    __tablename__ = "lti_line_item"
    __table_args__ = (UniqueConstraint("user_id", "exercise_id", "lineitem_url"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    exercise_id: Mapped[int] = mapped_column(ForeignKey("exercise.id", ondelete="CASCADE"),
                                             index=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platform.id", ondelete="CASCADE"),
                                             index=True)
    lineitem_url: Mapped[str] = mapped_column(String(500))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    launched_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: The last score posted, and the last failure (None once a post succeeds).
    posted_score: Mapped[float | None] = mapped_column(Float)
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)

    platform: Mapped[LtiPlatform] = relationship()
    user: Mapped[User] = relationship()
    exercise: Mapped[Exercise] = relationship()

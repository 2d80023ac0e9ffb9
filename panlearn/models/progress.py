"""Enrolments in a course version and completed lessons."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    Float,
    ForeignKey,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from panlearn.extensions import db
from panlearn.models.columns import UTCDateTime, enum_column, utcnow

if TYPE_CHECKING:
    from panlearn.models.accounts import User
    from panlearn.models.courses import Course, CourseVersion, Lesson


class CompletionKind(enum.StrEnum):
    """How a lesson was completed: read, passed as an exercise, or carried to a new version."""

    READ = "read"
    PASSED = "passed"
    CARRIED = "carried"


class Enrolment(db.Model):
    """A learner in a course, on the version they enrolled in (or last moved to).

    The version changes only when the learner asks to move, so a new release of
    a course never changes what they are working through.
    """

    __tablename__ = "enrolment"
    __table_args__ = (UniqueConstraint("user_id", "course_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"),
                                           index=True)
    course_version_id: Mapped[int] = mapped_column(
        ForeignKey("course_version.id", ondelete="CASCADE"), index=True)
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    moved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Completion of the current version; a move to another version starts it afresh.
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()
    course: Mapped[Course] = relationship()
    course_version: Mapped[CourseVersion] = relationship()


class LessonCompletion(db.Model):
    """A lesson a learner completed; completion is never taken back (best score counts)."""

    __tablename__ = "lesson_completion"
    __table_args__ = (UniqueConstraint("user_id", "lesson_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lesson.id", ondelete="CASCADE"),
                                           index=True)
    kind: Mapped[CompletionKind] = mapped_column(enum_column(CompletionKind, "completion_kind"))
    # For exercises: the submission whose graded score first reached the pass mark.
    submission_id: Mapped[int | None] = mapped_column(
        ForeignKey("submission.id", ondelete="SET NULL"))
    score_fraction: Mapped[float | None] = mapped_column(Float)
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    lesson: Mapped[Lesson] = relationship()

"""Quiz questions as validated at import, and learners' attempts at them."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Float,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from panlearn.extensions import db
from panlearn.models.columns import UTCDateTime, utcnow

if TYPE_CHECKING:
    from panlearn.models.accounts import User
    from panlearn.models.courses import Lesson


class QuizQuestion(db.Model):
    """A ```quiz question of a lesson, answer key included: graded here, never sent as is.

    Written at import from the notebook (`spec` is `Question.to_dict()`), so
    answering needs neither the notebook nor a kernel. `key` is the author's id,
    unique in the course version.
    """

    __tablename__ = "quiz_question"
    __table_args__ = (UniqueConstraint("lesson_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lesson.id", ondelete="CASCADE"),
                                           index=True)
    key: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(16))
    points: Mapped[float] = mapped_column(Float)
    #: Attempts allowed: the question's `attempts`, else the course's `quiz_attempts`.
    max_attempts: Mapped[int | None] = mapped_column(Integer)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)

    lesson: Mapped[Lesson] = relationship(back_populates="questions")


class QuizAttempt(db.Model):
    """One answer a learner gave to a question, graded at once; kept like a submission.

    `number` counts the learner's attempts at the question from 1; the unique
    constraint makes two concurrent answers unable to take the same number, so
    an attempt limit holds under races.
    """

    __tablename__ = "quiz_attempt"
    __table_args__ = (UniqueConstraint("question_id", "user_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(
        ForeignKey("quiz_question.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    #: The answer in canonical form: an index, a sorted list of indices, a number or a string.
    answer: Mapped[Any] = mapped_column(JSON)
    correct: Mapped[bool] = mapped_column()
    #: Fraction of the points the answer was worth, before any penalty.
    fraction: Mapped[float] = mapped_column(Float)
    points: Mapped[float] = mapped_column(Float)
    max_points: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    question: Mapped[QuizQuestion] = relationship()
    user: Mapped[User] = relationship()

"""Submissions and their grading runs, live runs, drafts, uploads, cached reference answers."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from panlearn.extensions import db
from panlearn.models.columns import UTCDateTime, enum_column, utcnow
from panlearn.models.courses import Exercise, Lesson, Module

if TYPE_CHECKING:
    from panlearn.models.accounts import User
    from panlearn.models.courses import NotebookBlob


class ReferenceAnswers(db.Model):
    """What a reference solution computes on given data files, for checks that compare with it.

    Keyed by the source notebook's sha256 and a hash of the dataset files given to its
    parameters (`datasets.resolve.datasets_key`), so it is computed once per solution and
    data, and shared by every worker that can reach the database. The answers are plain
    data (`grading.core.answers.encode_answers`: JSON, arrays as ``.npy``; never pickles).
    Rows are only ever inserted, never changed (a content-addressed cache).
    """

    __tablename__ = "reference_answers"
    __table_args__ = (UniqueConstraint("solution_hash", "datasets_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    solution_hash: Mapped[str] = mapped_column(String(64))
    datasets_key: Mapped[str] = mapped_column(String(64))
    #: parameter → sha256 of the file it was given (what `datasets_key` hashes).
    dataset_checksums: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    answers: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


def _exercise_course_version(context: Any) -> int:
    """Column default of `Submission.course_version_id`: the exercise's version.

    `submit_notebook` sets it explicitly; this keeps rows written by code that
    names only the exercise (fixtures, tools) consistent instead of failing.
    """
    exercise_id = context.get_current_parameters()["exercise_id"]
    return context.connection.execute(
        select(Module.course_version_id).join(Lesson, Lesson.module_id == Module.id)
        .join(Exercise, Exercise.lesson_id == Lesson.id).where(Exercise.id == exercise_id)
    ).scalar_one()


class SubmissionState(enum.StrEnum):
    """Where a submission is: `graded` is the student's outcome, `failed` is ours."""

    QUEUED = "queued"
    RUNNING = "running"
    GRADED = "graded"
    FAILED = "failed"


class Submission(db.Model):
    """A notebook a student handed in; committed before any work is done on it.

    A submission is claimed by one worker at a time through `claim_token` and a
    lease (`lease_expires_at`): a worker that dies leaves an expired lease, the
    submission is claimed again, and only the holder of the current token may
    record a result, so each submission is graded exactly once.
    """

    __tablename__ = "submission"

    id: Mapped[int] = mapped_column(primary_key=True)
    exercise_id: Mapped[int] = mapped_column(ForeignKey("exercise.id", ondelete="CASCADE"),
                                             index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    notebook_hash: Mapped[str] = mapped_column(ForeignKey("notebook_blob.sha256"))
    # The course version the learner worked in: the exercise's own version, recorded
    # explicitly so progress and credentials can say which version was done.
    course_version_id: Mapped[int] = mapped_column(
        ForeignKey("course_version.id", ondelete="CASCADE"), index=True,
        default=_exercise_course_version)
    state: Mapped[SubmissionState] = mapped_column(
        enum_column(SubmissionState, "submission_state"), default=SubmissionState.QUEUED, index=True
    )
    priority: Mapped[int] = mapped_column(Integer, default=0)
    #: Made by an author trying the exercise (a draft's, or their own organisation's): kept
    #: out of learners' progress and of the course's analytics.
    preview: Mapped[bool] = mapped_column(default=False, server_default=false())
    score: Mapped[float | None] = mapped_column(Float)
    max_score: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claim_token: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    exercise: Mapped[Exercise] = relationship()
    user: Mapped[User] = relationship()
    notebook: Mapped[NotebookBlob] = relationship(foreign_keys=[notebook_hash])
    runs: Mapped[list[GradingRun]] = relationship(
        back_populates="submission", order_by="GradingRun.id", cascade="all, delete-orphan"
    )


class SubmissionUpload(db.Model):
    """One notebook a student handed in for an exercise: accepted, or refused as invalid.

    The hourly limit counts these rather than submissions, so a notebook refused
    after parsing still costs the student one upload (the parsing cost us). Written
    in the same transaction as the count that allowed it (`submissions.submit_notebook`,
    behind `lock_student`); rows older than the window are deleted as new ones come in.
    """

    __tablename__ = "submission_upload"
    __table_args__ = (Index("ix_submission_upload_user_id_exercise_id_created_at",
                            "user_id", "exercise_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    exercise_id: Mapped[int] = mapped_column(ForeignKey("exercise.id", ondelete="CASCADE"),
                                             index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class GradingRun(db.Model):
    """One grading of a submission; regrades add runs, so the history is kept."""

    __tablename__ = "grading_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submission.id", ondelete="CASCADE"), index=True
    )
    state: Mapped[SubmissionState] = mapped_column(enum_column(SubmissionState, "run_state"))
    grader_version: Mapped[str] = mapped_column(String(40))
    check_suite_hash: Mapped[str] = mapped_column(String(64))
    dataset_checksums: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    timings: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    score: Mapped[float | None] = mapped_column(Float)
    max_score: Mapped[float | None] = mapped_column(Float)
    notes: Mapped[list[str]] = mapped_column(JSON, default=list)
    error: Mapped[str | None] = mapped_column(Text)
    executed_notebook_hash: Mapped[str | None] = mapped_column(
        ForeignKey("notebook_blob.sha256")
    )
    worker: Mapped[str] = mapped_column(String(100), default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    submission: Mapped[Submission] = relationship(back_populates="runs")
    executed_notebook: Mapped[NotebookBlob | None] = relationship(
        foreign_keys=[executed_notebook_hash])
    checks: Mapped[list[CheckResult]] = relationship(
        back_populates="run", order_by="CheckResult.position", cascade="all, delete-orphan"
    )


class CheckResult(db.Model):
    """One check of one run, shaped like a Gradescope `results.json` test."""

    __tablename__ = "check_result"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("grading_run.id", ondelete="CASCADE"),
                                        index=True)
    position: Mapped[int] = mapped_column(Integer)
    grade_id: Mapped[str] = mapped_column(String(100), index=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    score: Mapped[float] = mapped_column(Float)
    max_score: Mapped[float] = mapped_column(Float)
    output: Mapped[str] = mapped_column(Text, default="")
    visibility: Mapped[str] = mapped_column(String(32), default="visible")
    ran: Mapped[bool] = mapped_column(default=True)
    tamper_proof: Mapped[bool] = mapped_column(default=True)

    run: Mapped[GradingRun] = relationship(back_populates="checks")


class LiveRunState(enum.StrEnum):
    """Where a run of some cells is: waiting and running as a submission; then done or failed."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class LiveRun(db.Model):
    """Cells a learner asked to run from a lesson page, waiting for a grading worker.

    Runs share the grading queue with submissions (`grading.queue`): claimed
    the same way (`claim_token`, a lease, attempts), one running per
    `owner`, turns between owners. `owner` is the user's id, or 0 for every
    anonymous viewer together (`PANLEARN_LIVE_ANONYMOUS`), so a crowd without
    accounts takes one student's share. `notebook` holds the cells to run
    (composed from the student version and the learner's edits, never the
    author's source) and `result` what they printed. Rows are kept a few
    minutes after they finish (the queue's "least recently served" reads
    them), then deleted by later runs (`grading.runs.request_run`).
    """

    __tablename__ = "live_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lesson.id", ondelete="CASCADE"),
                                           index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    owner: Mapped[int] = mapped_column(Integer, index=True)
    cell_id: Mapped[str] = mapped_column(String(64))
    #: The cells whose outputs the learner asked for: "cell" (the one) or "all".
    outputs_of: Mapped[str] = mapped_column(String(8), default="cell")
    state: Mapped[LiveRunState] = mapped_column(
        enum_column(LiveRunState, "live_run_state"), default=LiveRunState.QUEUED, index=True)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    notebook: Mapped[bytes] = mapped_column(LargeBinary)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claim_token: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    lesson: Mapped[Lesson] = relationship()


class ExerciseDraft(db.Model):
    """A learner's cells of an exercise as last autosaved from its page: one per learner.

    Only the last save is kept (with its time); a reload, another browser or
    another day restores it. Never graded: "Check my work" submits a copy.
    """

    __tablename__ = "exercise_draft"
    __table_args__ = (UniqueConstraint("user_id", "exercise_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    exercise_id: Mapped[int] = mapped_column(ForeignKey("exercise.id", ondelete="CASCADE"),
                                             index=True)
    #: The notebook's canonical JSON (`notebooks.canonical.canonical_json`).
    content: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

"""The data model: organisations, accounts, courses with immutable versions, notebooks.

A `Course` is the stable identity (slug, owning organisation). Its content lives
in numbered `CourseVersion`s: each distinct import of the course folder is a new
version, and a published version is never modified in place, so a learner can
stay on the version they enrolled in. Notebooks are stored once, addressed by
the sha256 of their canonical JSON (`NotebookBlob`).
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Enum,
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
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from panlearn.extensions import db

#: Default `pass_mark` of a course: the fraction of an exercise's points to reach.
DEFAULT_PASS_MARK = 0.6


def utcnow() -> datetime:
    """Timezone-aware now; one clock for every timestamp column."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite would hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store UTC; refuse naive datetimes, which are always a bug here."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime stored; use panlearn.models.utcnow()")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Read back as aware UTC."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Role(enum.StrEnum):
    """What an account may do; authors and admins act within their organisation."""

    STUDENT = "student"
    AUTHOR = "author"
    ADMIN = "admin"


class VersionStatus(enum.StrEnum):
    """Lifecycle of a course version: draft → published (→ archived).

    Drafts may change; published versions never do. Publishing a new version
    archives the one before it: archived versions leave the catalogue but stay
    readable, so learners who enrolled in them keep their course.
    """

    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"


class LessonKind(enum.StrEnum):
    """A lesson is read, or it is an auto-graded exercise."""

    READING = "reading"
    EXERCISE = "exercise"


def _enum(kind: type[enum.Enum], name: str) -> Enum:
    # Stored as VARCHAR + CHECK so SQLite and PostgreSQL agree and migrations stay simple.
    return Enum(kind, name=name, native_enum=False, values_callable=lambda k: [m.value for m in k],
                length=16, create_constraint=True, validate_strings=True)


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
    role: Mapped[Role] = mapped_column(_enum(Role, "role"), default=Role.STUDENT)
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
    kind: Mapped[IdentityKind] = mapped_column(_enum(IdentityKind, "identity_kind"))
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


class NotebookBlob(db.Model):
    """A notebook stored once, addressed by the sha256 of its canonical JSON."""

    __tablename__ = "notebook_blob"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


def store_notebook_blob(session: Session, sha256: str, content: bytes) -> None:
    """Store a notebook's canonical bytes under their sha256 unless they are there already.

    One `INSERT … ON CONFLICT DO NOTHING`: two requests storing the same notebook
    at the same moment both succeed (the second waits for the first's commit and
    inserts nothing), where a look-then-insert answered one of them with a
    unique-constraint error.
    """
    from sqlalchemy.dialects import postgresql, sqlite

    dialects = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
    insert = dialects[session.get_bind().dialect.name]
    session.execute(insert(NotebookBlob).values(
        sha256=sha256, content=content, size=len(content), created_at=utcnow(),
    ).on_conflict_do_nothing(index_elements=["sha256"]))


class Course(db.Model):
    """The stable identity of a course; its content is in `versions`."""

    __tablename__ = "course"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    organisation: Mapped[Organisation] = relationship(back_populates="courses")
    versions: Mapped[list[CourseVersion]] = relationship(
        back_populates="course",
        order_by="CourseVersion.number",
        cascade="all, delete-orphan",
    )


class CourseVersion(db.Model):
    """One imported state of a course folder. Published versions are immutable."""

    __tablename__ = "course_version"
    __table_args__ = (UniqueConstraint("course_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    version: Mapped[str] = mapped_column(String(40))
    source_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[VersionStatus] = mapped_column(
        _enum(VersionStatus, "version_status"), default=VersionStatus.DRAFT
    )
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    level: Mapped[str] = mapped_column(String(20))
    language: Mapped[str] = mapped_column(String(10), default="en")
    techniques: Mapped[list[str]] = mapped_column(JSON, default=list)
    licence: Mapped[str] = mapped_column(String(64))
    authors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    prerequisites: Mapped[list[str]] = mapped_column(JSON, default=list)
    objectives: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id",
                                                                   ondelete="SET NULL"))
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Where the source came from: a folder, an upload, or a git repository at a commit.
    source_uri: Mapped[str | None] = mapped_column(String(500))
    source_ref: Mapped[str | None] = mapped_column(String(64))
    # Fraction of an exercise's points a learner's best graded submission must reach for
    # the exercise to count as completed (course.yml `pass_mark`).
    pass_mark: Mapped[float] = mapped_column(Float, default=DEFAULT_PASS_MARK)

    course: Mapped[Course] = relationship(back_populates="versions")
    published_by: Mapped[User | None] = relationship()
    modules: Mapped[list[Module]] = relationship(
        back_populates="course_version", order_by="Module.position", cascade="all, delete-orphan"
    )


class Module(db.Model):
    """An ordered group of lessons within a course version."""

    __tablename__ = "module"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_version_id: Mapped[int] = mapped_column(
        ForeignKey("course_version.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")

    course_version: Mapped[CourseVersion] = relationship(back_populates="modules")
    lessons: Mapped[list[Lesson]] = relationship(
        back_populates="module", order_by="Lesson.position", cascade="all, delete-orphan"
    )


class Lesson(db.Model):
    """A notebook in a module: read as a page, or submitted as an exercise."""

    __tablename__ = "lesson"

    id: Mapped[int] = mapped_column(primary_key=True)
    module_id: Mapped[int] = mapped_column(ForeignKey("module.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    slug: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[LessonKind] = mapped_column(_enum(LessonKind, "lesson_kind"))
    source_path: Mapped[str] = mapped_column(String(300))
    notebook_hash: Mapped[str] = mapped_column(ForeignKey("notebook_blob.sha256"))

    module: Mapped[Module] = relationship(back_populates="lessons")
    notebook: Mapped[NotebookBlob] = relationship()
    exercise: Mapped[Exercise | None] = relationship(
        back_populates="lesson", cascade="all, delete-orphan", uselist=False
    )
    questions: Mapped[list[QuizQuestion]] = relationship(
        back_populates="lesson", order_by="QuizQuestion.position", cascade="all, delete-orphan"
    )


class Exercise(db.Model):
    """The gradable part of an exercise lesson: its checks, points and datasets."""

    __tablename__ = "exercise"

    id: Mapped[int] = mapped_column(primary_key=True)
    lesson_id: Mapped[int] = mapped_column(
        ForeignKey("lesson.id", ondelete="CASCADE"), unique=True
    )
    points: Mapped[float] = mapped_column(Float)
    check_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    datasets: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # Checks that must run in the student's kernel (they call student functions, or
    # read values that are not plain data): decided from the reference solution.
    in_kernel_checks: Mapped[list[str]] = mapped_column(JSON, default=list)
    validated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    lesson: Mapped[Lesson] = relationship(back_populates="exercise")


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
        _enum(SubmissionState, "submission_state"), default=SubmissionState.QUEUED, index=True
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
    state: Mapped[SubmissionState] = mapped_column(_enum(SubmissionState, "run_state"))
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
        _enum(LiveRunState, "live_run_state"), default=LiveRunState.QUEUED, index=True)
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


class ImportJobState(enum.StrEnum):
    """Where an import from the author's workspace is; `done` holds its report's verdict."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ImportJob(db.Model):
    """An import (or a validation) started from the author's workspace, run in the background.

    Everything the work needs is stored before it starts (the uploaded zip,
    or the git URL and ref), so it does not depend on the request that asked
    for it: the page polls the `report`, which grows as the work goes on.
    Claimed like a submission (`claim_token`, `lease_expires_at`): the lease is
    renewed while it runs, and a job whose process died is claimed again and
    run from the start (an import is all or nothing), at most a few times.
    """

    __tablename__ = "import_job"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    #: "import", or "validate" (check everything, import nothing).
    mode: Mapped[str] = mapped_column(String(16))
    #: "upload" (then `archive`) or "git" (then `git_url`, `git_ref`).
    source_kind: Mapped[str] = mapped_column(String(16))
    source_label: Mapped[str] = mapped_column(String(500))
    archive: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    git_url: Mapped[str | None] = mapped_column(String(500))
    git_ref: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[ImportJobState] = mapped_column(
        _enum(ImportJobState, "import_job_state"), default=ImportJobState.QUEUED, index=True)
    #: `authoring.report.ImportReport.as_dict()`: problems, exercises, outcomes, result.
    report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: What went wrong on the platform's side (never the course's problems).
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claim_token: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    organisation: Mapped[Organisation] = relationship()
    user: Mapped[User | None] = relationship()


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
    kind: Mapped[CompletionKind] = mapped_column(_enum(CompletionKind, "completion_kind"))
    # For exercises: the submission whose graded score first reached the pass mark.
    submission_id: Mapped[int | None] = mapped_column(
        ForeignKey("submission.id", ondelete="SET NULL"))
    score_fraction: Mapped[float | None] = mapped_column(Float)
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    lesson: Mapped[Lesson] = relationship()


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

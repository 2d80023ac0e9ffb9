"""Courses, their immutable numbered versions, modules, lessons, exercises; notebooks; imports.

A `Course` is the stable identity (slug, owning organisation). Its content lives
in numbered `CourseVersion`s: each distinct import of the course folder is a new
version, and a published version is never modified in place, so a learner can
stay on the version they enrolled in. Notebooks are stored once, addressed by
the sha256 of their canonical JSON (`NotebookBlob`).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from panlearn.extensions import db
from panlearn.models.columns import UTCDateTime, enum_column, utcnow

if TYPE_CHECKING:
    from panlearn.models.accounts import Organisation, User
    from panlearn.models.quizzes import QuizQuestion


#: Default `pass_mark` of a course: the fraction of an exercise's points to reach.
DEFAULT_PASS_MARK = 0.6
#: The levels a course version may declare (course.yml `level`; the API's filters).
LEVELS = ("beginner", "intermediate", "advanced")


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
        enum_column(VersionStatus, "version_status"), default=VersionStatus.DRAFT
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
    kind: Mapped[LessonKind] = mapped_column(enum_column(LessonKind, "lesson_kind"))
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
        enum_column(ImportJobState, "import_job_state"), default=ImportJobState.QUEUED, index=True)
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

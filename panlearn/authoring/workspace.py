"""The author's workspace, read side: an organisation's courses and their versions.

For each course: every version (draft, published, archived) with who
published it and when, where its source came from and how many learners are
on it; and, before publishing or withdrawing, what learners keep. Only the
authors and admins of the organisation see any of it; another organisation's
course is not acknowledged (404).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from panlearn.accounts.permissions import is_staff_of, require_author
from panlearn.authoring.diff import VersionDiff, version_diff
from panlearn.errors import NotFoundError
from panlearn.models import Course, CourseVersion, Enrolment, User, VersionStatus


@dataclass(frozen=True)
class VersionRow:
    """A version as the workspace lists it."""

    version: CourseVersion
    learners: int

    @property
    def source(self) -> str:
        """Where the content came from, for people: a folder, an upload, git at a commit."""
        return describe_source(self.version)


@dataclass(frozen=True)
class CourseRow:
    """A course with its versions, newest first."""

    course: Course
    versions: list[VersionRow]

    @property
    def newest(self) -> CourseVersion:
        """The newest version (what the workspace acts on)."""
        return self.versions[0].version

    @property
    def published(self) -> CourseVersion | None:
        """The version in the catalogue, if any."""
        return next((row.version for row in self.versions
                     if row.version.status == VersionStatus.PUBLISHED), None)

    @property
    def draft(self) -> CourseVersion | None:
        """The newest version when it is a draft (the one to preview and publish)."""
        return self.newest if self.newest.status == VersionStatus.DRAFT else None

    @property
    def learners(self) -> int:
        """Learners on any version."""
        return sum(row.learners for row in self.versions)


def describe_source(version: CourseVersion) -> str:
    """`upload demo.zip`, `git https://… at 1a2b3c4`, or the folder's path."""
    uri = version.source_uri or ""
    if uri.startswith("upload:"):
        return f"upload {uri.removeprefix('upload:')}"
    if uri.startswith("git:"):
        at = f" at {version.source_ref[:7]}" if version.source_ref else ""
        return f"git {uri.removeprefix('git:')}{at}"
    return f"folder {uri}" if uri else "unknown"


def _learners(session: Session, course_ids: list[int]) -> Counter[int]:
    rows = session.execute(select(Enrolment.course_version_id, func.count(Enrolment.id))
                           .where(Enrolment.course_id.in_(course_ids))
                           .group_by(Enrolment.course_version_id))
    return Counter({version_id: count for version_id, count in rows})


def _row(course: Course, learners: Counter[int]) -> CourseRow:
    return CourseRow(course, [VersionRow(version, learners[version.id])
                              for version in reversed(course.versions)])


def organisation_courses(session: Session, viewer: User | None) -> list[CourseRow]:
    """The courses of the viewer's organisation, by slug."""
    author = require_author(viewer)
    courses = list(session.scalars(
        select(Course).where(Course.organisation_id == author.organisation_id)
        .order_by(Course.slug)
        .options(selectinload(Course.versions).selectinload(CourseVersion.published_by))))
    learners = _learners(session, [course.id for course in courses])
    return [_row(course, learners) for course in courses if course.versions]


def course_row(session: Session, slug: str, viewer: User | None) -> CourseRow:
    """One course of the viewer's organisation (404 for any other)."""
    require_author(viewer)
    course = session.scalar(select(Course).where(Course.slug == slug))
    if course is None or not is_staff_of(viewer, course) or not course.versions:
        raise NotFoundError(f"No course {slug!r} in your organisation.")
    return _row(course, _learners(session, [course.id]))


@dataclass(frozen=True)
class PublishPlan:
    """What publishing the draft does, to confirm before doing it."""

    draft: CourseVersion
    published: CourseVersion | None
    #: Learners enrolled in the version now published: they stay on it.
    staying: int
    diff: VersionDiff


def publish_plan(row: CourseRow) -> PublishPlan | None:
    """The plan for the course's draft, or None when there is no draft to publish."""
    if row.draft is None:
        return None
    published = row.published
    staying = next((r.learners for r in row.versions if r.version is published), 0)
    # Against what learners see now; for a withdrawn course, what they saw last.
    against = published or next((r.version for r in row.versions
                                 if r.version.status == VersionStatus.ARCHIVED), None)
    return PublishPlan(row.draft, published, staying, version_diff(against, row.draft))

"""Reading the catalogue as a given viewer: course lists, a course, a lesson, a notebook.

Visibility is decided by `accounts.permissions` only; every read path goes
through these functions, so no route can show a draft or a solution by accident.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import nbformat
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from panlearn.accounts.permissions import can_view_version, is_staff_of, visible_version
from panlearn.errors import ForbiddenError, NotFoundError
from panlearn.models import Course, CourseVersion, Lesson, Module, Organisation, User
from panlearn.notebooks.student import make_student_version


@dataclass(frozen=True)
class Page:
    """One page of a filtered list."""

    items: list[Any]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        """How many pages the whole list makes."""
        return max(1, math.ceil(self.total / self.per_page))


def list_courses(session: Session, viewer: User | None, *, technique: str | None = None,
                 level: str | None = None, organisation: str | None = None,
                 status: str | None = None, page: int = 1, per_page: int = 20) -> Page:
    """Courses the viewer may see (newest visible version each), filtered and paged."""
    query = (select(Course).join(Organisation).order_by(Course.slug)
             .options(selectinload(Course.versions), selectinload(Course.organisation)))
    if organisation:
        query = query.where(Organisation.slug == organisation)
    versions: list[CourseVersion] = []
    wanted_technique = technique.casefold() if technique else None
    for course in session.scalars(query):
        version = visible_version(viewer, course)
        if version is None:
            continue
        if level and version.level != level:
            continue
        if status and version.status.value != status:
            continue
        if wanted_technique and wanted_technique not in {t.casefold() for t in version.techniques}:
            continue
        versions.append(version)
    start = (page - 1) * per_page
    return Page(items=versions[start:start + per_page], total=len(versions), page=page,
                per_page=per_page)


def get_course(session: Session, slug: str) -> Course:
    """A course by slug, whatever its visibility (for permission checks by the caller)."""
    course = session.scalar(select(Course).where(Course.slug == slug))
    if course is None:
        raise NotFoundError(f"No course {slug!r}.")
    return course


def get_course_version(session: Session, slug: str, viewer: User | None,
                       number: int | None = None) -> CourseVersion:
    """The version a viewer asked for, or the newest they may see."""
    course = session.scalar(select(Course).where(Course.slug == slug))
    version = None
    if course is not None:
        if number is None:
            version = visible_version(viewer, course)
        else:
            version = next((v for v in course.versions if v.number == number), None)
            if version is not None and not can_view_version(viewer, version):
                version = None
    if version is None:
        # Drafts are not acknowledged to outsiders: 404, not 403.
        raise NotFoundError(f"No course {slug!r}" + (f" version {number}" if number else "") + ".")
    return version


def get_lesson(session: Session, lesson_id: int, viewer: User | None) -> Lesson:
    """A lesson the viewer may see."""
    lesson = session.get(Lesson, lesson_id)
    if lesson is None or not can_view_version(viewer, lesson.module.course_version):
        raise NotFoundError(f"No lesson {lesson_id}.")
    return lesson


def neighbours(lesson: Lesson) -> tuple[Lesson | None, Lesson | None]:
    """The lessons before and after this one in its course version."""
    ordered = [item for module in lesson.module.course_version.modules for item in module.lessons]
    index = ordered.index(lesson)
    before = ordered[index - 1] if index > 0 else None
    after = ordered[index + 1] if index + 1 < len(ordered) else None
    return before, after


def lesson_notebook(lesson: Lesson, viewer: User | None, *, version: str = "student") -> Any:
    """The notebook of a lesson: the student version, or the source for its authors only."""
    notebook = nbformat.reads(lesson.notebook.content.decode("utf-8"), as_version=4)
    if version == "source":
        if not is_staff_of(viewer, lesson.module.course_version.course):
            raise ForbiddenError("Only the course's authors and admins may download the source.")
        return notebook
    return make_student_version(notebook)


def lessons_of(version: CourseVersion) -> list[tuple[Module, Lesson]]:
    """Every lesson of a version in reading order, with its module."""
    return [(module, lesson) for module in version.modules for lesson in module.lessons]


def list_organisations(session: Session) -> list[Organisation]:
    """Every organisation, by slug."""
    return list(session.scalars(select(Organisation).order_by(Organisation.slug)))

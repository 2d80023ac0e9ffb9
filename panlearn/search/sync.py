"""Keeping the index true to the database: documents from courses, after each commit.

Which version is indexed: a course's newest published version, or, while it
has never been published, its newest draft (visible in search only to its
organisation's authors). Lesson text comes from the student version, so no
solution or hidden check is ever indexed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat
from sqlalchemy import select
from sqlalchemy.orm import Session

from panlearn.models import Course, CourseVersion, LessonKind, Organisation, User, VersionStatus
from panlearn.notebooks.student import make_student_version
from panlearn.search.documents import (
    SearchDocument,
    Viewer,
    course_doc_id,
    exercise_doc_id,
    lesson_doc_id,
)
from panlearn.search.extract import extract_notebook_text

if TYPE_CHECKING:  # whoosh: imported when the index is opened or a query expanded
    from panlearn.search.index import Index
    from panlearn.search.synonyms import Synonyms

log = logging.getLogger(__name__)


class SearchContext:
    """The app's search index, opened on first use (one per process)."""

    def __init__(self, path: Path, lock_timeout: float = 60.0) -> None:
        self.path = path
        self.lock_timeout = lock_timeout
        self._index: Index | None = None

    @property
    def index(self) -> Index:
        """The open index."""
        if self._index is None:
            from panlearn.search.index import Index

            self._index = Index.open_or_create(self.path, lock_timeout=self.lock_timeout)
        return self._index


def viewer_for(user: User | None) -> Viewer:
    """The index's view of a user: drafts are visible per organisation."""
    if user is None:
        return Viewer.anonymous()
    return Viewer(role=user.role.value,
                  organisation_slug=user.organisation.slug if user.organisation else None)


#: The table of short names in the content folder (PANLEARN_CONTENT_DIR).
SYNONYMS_FILE = "synonyms.yml"


@lru_cache(maxsize=8)
def _synonyms(path: Path, mtime: float, organisations: tuple[tuple[str, str], ...],
              techniques: tuple[tuple[str, str], ...]) -> Synonyms:
    # Keyed by the file's mtime and the organisations: an edit or `orgs load` shows at once.
    from panlearn.search.synonyms import build_synonyms, load_table

    return build_synonyms(load_table(path), organisations, techniques)


def search_synonyms(session: Session, content_dir: Path,
                    techniques: Iterable[tuple[str, str]] = ()) -> Synonyms:
    """The short names search accepts: content/synonyms.yml, the organisations, PaNET ids.

    `techniques` are (PaNET id, label) pairs, e.g. from the dataset registry.
    """
    path = Path(content_dir) / SYNONYMS_FILE
    mtime = path.stat().st_mtime if path.is_file() else 0.0
    organisations = tuple((slug, name) for slug, name in session.execute(
        select(Organisation.slug, Organisation.name).order_by(Organisation.slug)))
    return _synonyms(path, mtime, organisations, tuple(sorted(set(techniques))))


def registry_techniques(registry: Iterable[Any]) -> list[tuple[str, str]]:
    """(PaNET id, label) of every technique the dataset registry names."""
    return [(ref.id, ref.label) for dataset in registry for ref in dataset.techniques]


def indexed_version(course: Course) -> CourseVersion | None:
    """The version search shows: newest published, else (never published) newest draft.

    A withdrawn course (only archived versions and drafts) is not indexed.
    """
    statuses = {v.status for v in course.versions}
    for version in reversed(course.versions):
        if version.status == VersionStatus.PUBLISHED:
            return version
    if VersionStatus.ARCHIVED in statuses or not course.versions:
        return None
    return course.versions[-1]


def course_documents(course: Course) -> list[SearchDocument]:
    """The course document and one per lesson (exercise lessons as exercises)."""
    version = indexed_version(course)
    if version is None:
        return []
    common = {
        "course_slug": course.slug, "course_title": version.title,
        "status": version.status.value, "organisation_slug": course.organisation.slug,
        "techniques": tuple(version.techniques), "facility": course.organisation.name,
        "level": version.level, "licence": version.licence, "language": version.language,
    }
    documents = [SearchDocument(doc_id=course_doc_id(course.slug), kind="course",
                                title=version.title, url=f"/courses/{course.slug}",
                                summary=version.summary, position=0, **common)]
    position = 0
    for module in version.modules:
        for lesson in module.lessons:
            position += 1
            notebook = nbformat.reads(lesson.notebook.content.decode("utf-8"), as_version=4)
            text = extract_notebook_text(make_student_version(notebook))
            is_exercise = lesson.kind == LessonKind.EXERCISE and lesson.exercise is not None
            documents.append(SearchDocument(
                doc_id=exercise_doc_id(lesson.exercise.id) if is_exercise
                else lesson_doc_id(lesson.id),
                kind="exercise" if is_exercise else "lesson", title=lesson.title,
                url=f"/lessons/{lesson.id}", summary=module.title, markdown=text.markdown,
                code=text.code, lesson_id=lesson.id, position=position, **common))
    return documents


def reindex_course(session: Session, index: Index, slug: str) -> None:
    """Replace a course's documents (or remove them, when the course is gone).

    Called after the commit that changed the course, so a failed commit never
    leaves a ghost hit. A busy index is logged, not raised: the database is the
    source of truth and `flask search rebuild` restores the index.
    """
    from panlearn.search.index import SearchIndexBusyError

    course = session.scalar(select(Course).where(Course.slug == slug))
    try:
        index.delete_course(slug)
        if course is not None:
            index.upsert(course_documents(course))
    except SearchIndexBusyError:
        log.warning("search index busy: course %s not reindexed; run `flask search rebuild`",
                    slug)


def course_hook(session_factory: Callable[[], Session],
                context: SearchContext) -> Callable[[str], None]:
    """An after-commit hook for the authoring services."""
    def hook(slug: str) -> None:
        reindex_course(session_factory(), context.index, slug)

    return hook

"""Course use cases: import a validated source, publish, update, delete.

Import is idempotent: a source whose hash equals the newest version changes
nothing. A changed source becomes a new version; a published version is never
modified in place. Each use case owns its transaction and calls its
after-commit hooks only once the commit succeeded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from panlearn.accounts.permissions import require_staff
from panlearn.authoring.checks import Grading, check_courses
from panlearn.authoring.folder import CourseFolderError
from panlearn.authoring.manifest import CourseSource, Problem
from panlearn.authoring.report import ImportReport, ImportResult
from panlearn.errors import ConflictError, InvalidInputError
from panlearn.grading.reference import ExerciseValidation, add_reference_answers
from panlearn.models import (
    DEFAULT_PASS_MARK,
    Course,
    CourseVersion,
    Exercise,
    Lesson,
    LessonKind,
    Module,
    NotebookBlob,
    Organisation,
    QuizQuestion,
    User,
    VersionStatus,
    utcnow,
)

log = logging.getLogger(__name__)

# Called with the course slug after a commit that changed what the course shows.
CourseHook = Callable[[str], None]
#: Grades an exercise's reference solution on each choice of files; returns an
#: `ExerciseValidation` (the checks that must run in-kernel, the reference answers).
ExerciseValidator = Callable[[Any, list[dict[str, Any]]], ExerciseValidation]


def import_courses(
    session: Session,
    sources: Iterable[CourseSource],
    *,
    publish: bool = False,
    actor: User | None = None,
    after_commit: Iterable[CourseHook] = (),
    validate_exercise: ExerciseValidator | None = None,
    problems: Iterable[Problem] = (),
    report: ImportReport | None = None,
) -> list[ImportResult]:
    """Import several courses in one transaction: all of them, or nothing.

    Every check runs first (`checks.check_courses`: organisations and rights,
    then `validate_exercise(notebook, datasets)` grading each new or changed
    exercise), adding to the `problems` the folders already had; any problem
    refuses the whole import with all of them (`CourseFolderError`). Then the
    versions are written and committed once; a failure on the way rolls back
    everything. The `after_commit` hooks run after the commit and can no
    longer undo or fail it: they log their errors.
    """
    sources = list(sources)
    report = report if report is not None else ImportReport()
    report.add_problems(list(problems))
    found = list(problems) + check_courses(
        session, sources, actor=actor, grading=Grading(validate_exercise), report=report)
    if found:
        report.result = "invalid"
        report.changed()
        raise CourseFolderError(found)
    try:
        results = [_import_one(session, source, publish, actor) for source in sources]
        session.commit()
    except IntegrityError:
        session.rollback()
        report.result = "failed"
        report.changed()
        raise ConflictError("Another import of the same course finished meanwhile; import "
                            "again to see what it changed.") from None
    except BaseException:
        session.rollback()
        report.result = "failed"
        report.changed()
        raise
    report.outcomes.extend(results)
    report.result = "imported"
    report.changed()
    _after_commit(after_commit, [r.slug for r in results if r.outcome != "unchanged"])
    return results


def validate_courses(
    session: Session,
    sources: Iterable[CourseSource],
    *,
    grading: Grading,
    actor: User | None = None,
    problems: Iterable[Problem] = (),
    report: ImportReport | None = None,
) -> ImportReport:
    """Everything an import would refuse, all at once, writing nothing (`courses validate`).

    The same checks as `import_courses`, except that every exercise is graded
    again (`grading.regrade`), or skipped when its data is not at hand.
    """
    report = report if report is not None else ImportReport()
    report.add_problems(list(problems))
    check_courses(session, list(sources), actor=actor, grading=grading, report=report)
    report.result = "invalid" if report.problems else "valid"
    report.changed()
    return report


def _after_commit(hooks: Iterable[CourseHook], slugs: Iterable[str]) -> None:
    """Run the hooks for each changed course; the commit stands whatever they raise."""
    hooks = list(hooks)
    for slug in slugs:
        for hook in hooks:
            try:
                hook(slug)
            except Exception:
                log.exception("after-commit hook %r failed for course %s; the change is "
                              "committed", hook, slug)


def _import_one(session: Session, source: CourseSource, publish: bool,
                actor: User | None) -> ImportResult:
    organisation = session.scalar(select(Organisation).where(
        Organisation.slug == source.manifest["organisation"]))
    course = session.scalar(select(Course).where(Course.slug == source.slug))
    if course is None:
        course = Course(slug=source.slug, organisation=organisation)
        session.add(course)
    latest = course.versions[-1] if course.versions else None
    if latest is not None and latest.source_hash in (source.source_hash, source.legacy_hash):
        if publish and latest.status == VersionStatus.DRAFT:
            _publish(latest, actor)
            return ImportResult(source.slug, latest.number, "published", latest.status.value)
        return ImportResult(source.slug, latest.number, "unchanged", latest.status.value)
    version = _new_version(session, course, source, number=(latest.number + 1) if latest else 1)
    if publish:
        _publish(version, actor)
    outcome = "created" if latest is None else "new-version"
    return ImportResult(source.slug, version.number, outcome, version.status.value)


def _new_version(session: Session, course: Course, source: CourseSource,
                 *, number: int) -> CourseVersion:
    m = source.manifest
    version = CourseVersion(
        course=course, number=number, version=m["version"], source_hash=source.source_hash,
        status=VersionStatus.DRAFT, title=m["title"], summary=m["summary"], level=m["level"],
        language=m["language"], techniques=list(m["techniques"]), licence=m["licence"],
        authors=[dict(a) for a in m["authors"]], prerequisites=list(m["prerequisites"]),
        objectives=list(m["objectives"]), source_uri=source.origin_uri,
        source_ref=source.origin_ref, pass_mark=m.get("pass_mark", DEFAULT_PASS_MARK),
    )
    session.add(version)
    for position, module_source in enumerate(source.modules, start=1):
        module = Module(position=position, title=module_source.title,
                        summary=module_source.summary)
        version.modules.append(module)
        for lesson_position, lesson_source in enumerate(module_source.lessons, start=1):
            _store_blob(session, lesson_source.notebook_hash, lesson_source.notebook_bytes)
            lesson = Lesson(position=lesson_position, slug=lesson_source.slug,
                            title=lesson_source.title, kind=LessonKind(lesson_source.kind),
                            source_path=lesson_source.source_path,
                            notebook_hash=lesson_source.notebook_hash)
            if lesson.kind == LessonKind.EXERCISE:
                lesson.exercise = Exercise(
                    points=sum(check["points"] for check in lesson_source.checks),
                    check_ids=[check["grade_id"] for check in lesson_source.checks],
                    datasets=lesson_source.datasets,
                    in_kernel_checks=list(lesson_source.in_kernel_checks or []),
                    validated_at=utcnow() if lesson_source.in_kernel_checks is not None
                    else None,
                )
                # Computed while validating: the first student on each file does not pay.
                for checksums, answers in lesson_source.reference_answers:
                    add_reference_answers(session, lesson_source.notebook_hash, checksums,
                                          answers)
            lesson.questions = [
                QuizQuestion(key=question.id, position=position, type=question.type,
                             points=question.points,
                             max_attempts=question.attempts or m.get("quiz_attempts"),
                             spec=question.to_dict())
                for position, question in enumerate(lesson_source.questions, start=1)]
            module.lessons.append(lesson)
    return version


def _store_blob(session: Session, sha256: str, content: bytes) -> None:
    # Content-addressed: the same notebook in many versions is stored once.
    if session.get(NotebookBlob, sha256) is None:
        session.add(NotebookBlob(sha256=sha256, content=content, size=len(content)))
        session.flush()


def _publish(version: CourseVersion, actor: User | None = None) -> None:
    """Publish `version`; the version published before it is archived."""
    now = utcnow()
    for other in version.course.versions:
        if other is not version and other.status == VersionStatus.PUBLISHED:
            other.status = VersionStatus.ARCHIVED
            other.archived_at = now
    version.status = VersionStatus.PUBLISHED
    version.published_at = now
    version.published_by = actor


def publish_course(session: Session, course: Course, actor: User | None,
                   *, after_commit: Iterable[CourseHook] = ()) -> CourseVersion:
    """Publish the newest version of a course, which must be a draft."""
    require_staff(actor, course)
    latest = course.versions[-1]
    if latest.status != VersionStatus.DRAFT:
        raise ConflictError(f"Version {latest.number} of {course.slug!r} is already "
                            f"{latest.status.value}; import a changed course to make a new draft.")
    _publish(latest, actor)
    session.commit()
    _after_commit(after_commit, [course.slug])
    return latest


EDITABLE_FIELDS = ("title", "summary", "level", "techniques", "prerequisites", "objectives")


def update_course(session: Session, course: Course, actor: User | None, changes: dict[str, Any],
                  *, after_commit: Iterable[CourseHook] = ()) -> CourseVersion:
    """Change the metadata of the newest version, which must still be a draft."""
    require_staff(actor, course)
    latest = course.versions[-1]
    if latest.status != VersionStatus.DRAFT:
        raise ConflictError(f"Version {latest.number} of {course.slug!r} is "
                            f"{latest.status.value} and immutable; import a changed course to "
                            "make a new draft.")
    unknown = sorted(set(changes) - set(EDITABLE_FIELDS))
    if unknown:
        raise InvalidInputError("These fields cannot be changed.",
                                errors={name: ["not editable"] for name in unknown})
    for name, value in changes.items():
        setattr(latest, name, value)
    session.commit()
    _after_commit(after_commit, [course.slug])
    return latest


def archive_course(session: Session, course: Course, actor: User | None,
                   *, after_commit: Iterable[CourseHook] = ()) -> CourseVersion:
    """Withdraw a course from the catalogue: its published version becomes archived."""
    require_staff(actor, course)
    published = [v for v in course.versions if v.status == VersionStatus.PUBLISHED]
    if not published:
        raise ConflictError(f"{course.slug!r} has no published version to archive.")
    version = published[-1]
    version.status = VersionStatus.ARCHIVED
    version.archived_at = utcnow()
    session.commit()
    _after_commit(after_commit, [course.slug])
    return version


def delete_course(session: Session, course: Course, actor: User | None,
                  *, after_commit: Iterable[CourseHook] = ()) -> None:
    """Delete a course with all its versions (notebook blobs stay: they are shared)."""
    require_staff(actor, course)
    slug = course.slug
    session.delete(course)
    session.commit()
    _after_commit(after_commit, [slug])

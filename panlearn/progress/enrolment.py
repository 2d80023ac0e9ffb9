"""Enrolment: a learner is tied to one course version until they choose to move.

Enrolling takes the newest published version. Enrolling again changes nothing
(it is idempotent), unless the learner asks to `move`: then they go to the
newest published version, their course completion starts afresh for it, and
lessons whose notebook did not change between the versions keep their
completion (same slug and same notebook hash: the very same content).
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from panlearn.accounts.permissions import visible_version
from panlearn.credentials.service import IssuerConfig
from panlearn.errors import ConflictError, NotFoundError, UnauthorizedError
from panlearn.models import (
    CompletionKind,
    Course,
    CourseVersion,
    Enrolment,
    LessonCompletion,
    User,
    VersionStatus,
    utcnow,
)
from panlearn.progress.completion import (
    completions_for,
    enrolment_of,
    finish,
    passes,
    update_course_completion,
    version_lessons,
)


def newest_published(course: Course) -> CourseVersion | None:
    """The version new learners enrol in."""
    for version in reversed(course.versions):
        if version.status == VersionStatus.PUBLISHED:
            return version
    return None


def enrol(session: Session, course: Course, viewer: User | None, *, move: bool = False,
          issuer: IssuerConfig | None) -> Enrolment:
    """Enrol the viewer (or move them to the newest published version when `move`)."""
    if viewer is None:
        raise UnauthorizedError("Sign in to enrol.")
    enrolment = enrolment_of(session, viewer.id, course.id)
    # Drafts are not acknowledged to outsiders; an enrolled learner keeps an archived course.
    if enrolment is None and visible_version(viewer, course) is None:
        raise NotFoundError(f"No course {course.slug!r}.")
    newest = newest_published(course)
    if enrolment is None:
        if newest is None:
            raise ConflictError(f"The course {course.slug!r} has no published version to "
                                "enrol in.")
        enrolment = Enrolment(user=viewer, course=course, course_version=newest,
                              enrolled_at=utcnow())
        session.add(enrolment)
        try:
            session.flush()
        except IntegrityError:
            # A concurrent request enrolled the viewer first: use that enrolment.
            session.rollback()
            return enrol(session, course, viewer, move=move, issuer=issuer)
    elif move and newest is not None and newest.id != enrolment.course_version_id:
        _carry_completions(session, viewer, enrolment.course_version, newest)
        enrolment.course_version = newest
        enrolment.moved_at = utcnow()
        enrolment.completed_at = None
        session.flush()
    # Lessons done before enrolling (or carried over) count at once.
    update_course_completion(session, enrolment)
    session.commit()
    finish(session, enrolment, issuer)
    return enrolment


def _carry_completions(session: Session, viewer: User, old: CourseVersion,
                       new: CourseVersion) -> None:
    """Lessons identical in both versions keep their completion in the new one."""
    old_lessons = {(lesson.slug, lesson.notebook_hash): lesson for lesson in version_lessons(old)}
    done_old = completions_for(session, viewer.id, (lesson.id for lesson in old_lessons.values()))
    new_lessons = version_lessons(new)
    done_new = completions_for(session, viewer.id, (lesson.id for lesson in new_lessons))
    now = utcnow()
    for lesson in new_lessons:
        twin = old_lessons.get((lesson.slug, lesson.notebook_hash))
        if lesson.id in done_new or twin is None or twin.id not in done_old:
            continue
        earlier = done_old[twin.id]
        if earlier.score_fraction is not None and not passes(earlier.score_fraction,
                                                             new.pass_mark):
            continue  # the new version asks for more than was scored
        session.add(LessonCompletion(user_id=viewer.id, lesson_id=lesson.id,
                                     kind=CompletionKind.CARRIED, completed_at=now,
                                     score_fraction=done_old[twin.id].score_fraction))

"""A learner's own progress, per enrolled course, on the version they are enrolled in."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from panlearn.errors import UnauthorizedError
from panlearn.models import Credential, Enrolment, Lesson, User
from panlearn.progress.completion import (
    best_quiz_points,
    best_scores,
    completions_for,
    passes,
    score_fraction,
    version_lessons,
)
from panlearn.progress.enrolment import newest_published


def course_progress(session: Session, enrolment: Enrolment) -> dict[str, Any]:
    """The fields of `CourseProgressSchema` for one enrolment."""
    version = enrolment.course_version
    lessons = version_lessons(version)
    done = completions_for(session, enrolment.user_id, (lesson.id for lesson in lessons))
    exercises = [lesson.exercise for lesson in lessons if lesson.exercise is not None]
    best = best_scores(session, enrolment.user_id, (exercise.id for exercise in exercises))
    quizzed = [lesson for lesson in lessons if lesson.questions]
    best_points = best_quiz_points(session, enrolment.user_id,
                                   (q.id for lesson in quizzed for q in lesson.questions))
    newest = newest_published(enrolment.course)
    credential = session.scalar(select(Credential).where(
        Credential.user_id == enrolment.user_id, Credential.course_version_id == version.id))
    return {
        "course": enrolment.course.slug,
        "title": version.title,
        "organisation": enrolment.course.organisation.slug,
        "version": version.version,
        "version_number": version.number,
        "version_status": version.status.value,
        "newest_version_number": newest.number if newest else None,
        "can_move": newest is not None and newest.id != version.id,
        "pass_mark": version.pass_mark,
        "enrolled_at": enrolment.enrolled_at,
        "moved_at": enrolment.moved_at,
        "lessons_done": sum(lesson.id in done for lesson in lessons),
        "lessons_total": len(lessons),
        "lessons": [{
            "id": lesson.id, "slug": lesson.slug, "title": lesson.title,
            "kind": lesson.kind.value,
            "completed_at": done[lesson.id].completed_at if lesson.id in done else None,
            "how": done[lesson.id].kind.value if lesson.id in done else None,
        } for lesson in lessons],
        "exercises": [{
            "exercise_id": exercise.id, "lesson_id": exercise.lesson_id,
            "title": exercise.lesson.title, "max_score": exercise.points,
            "best_score": best[exercise.id][1] if exercise.id in best else None,
            "best_fraction": best[exercise.id][0] if exercise.id in best else None,
            "graded_submissions": best[exercise.id][2] if exercise.id in best else 0,
            "passed": exercise.lesson_id in done or passes(
                best[exercise.id][0] if exercise.id in best else None, version.pass_mark),
        } for exercise in exercises],
        "quizzes": [_quiz_progress(lesson, best_points, version.pass_mark) for lesson in quizzed],
        "completed_at": enrolment.completed_at,
        "credential": None if credential is None else {
            "id": credential.id, "url": f"/api/credentials/{credential.id}",
            "verify_url": f"/api/credentials/{credential.id}/verify",
            "page_url": f"/credentials/{credential.id}",
            "issued_at": credential.issued_at, "revoked": credential.revoked_at is not None,
        },
    }


def _quiz_progress(lesson: Lesson, best: dict[int, tuple[float, int]],
                   pass_mark: float) -> dict[str, Any]:
    total = sum(q.points for q in lesson.questions)
    scored = sum(best.get(q.id, (0.0, 0))[0] for q in lesson.questions)
    return {"lesson_id": lesson.id, "title": lesson.title, "questions": len(lesson.questions),
            "answered": sum(q.id in best for q in lesson.questions), "points": total,
            "best_points": round(scored, 6),
            "passed": passes(score_fraction(scored, total), pass_mark)}


def learner_progress(session: Session, viewer: User | None) -> list[dict[str, Any]]:
    """The viewer's progress in every course they are enrolled in."""
    if viewer is None:
        raise UnauthorizedError("Sign in to see your progress.")
    enrolments = session.scalars(select(Enrolment).where(Enrolment.user_id == viewer.id)
                                 .order_by(Enrolment.enrolled_at, Enrolment.id))
    return [course_progress(session, enrolment) for enrolment in enrolments]

"""Lesson and course completion.

A reading lesson is completed when the learner marks it read; an exercise when
their best graded score reaches the course version's pass mark (recorded as
each submission is graded). A lesson with quiz questions is completed when
the learner's best points on its questions reach the pass mark (and, for an
exercise with questions, when both its parts do). A course is completed when every lesson of the
version the learner is enrolled in is completed; that moment issues their
credential. Completion is never taken back: a later, worse submission does
not undo a pass.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from panlearn.catalogue import get_lesson
from panlearn.credentials.service import IssuerConfig, issue_credential
from panlearn.errors import ConflictError, UnauthorizedError
from panlearn.models import (
    CompletionKind,
    CourseVersion,
    Enrolment,
    Lesson,
    LessonCompletion,
    LessonKind,
    QuizAttempt,
    QuizQuestion,
    Submission,
    SubmissionState,
    User,
    utcnow,
)

log = logging.getLogger(__name__)

#: Scores are fractions of floats: a pass mark of 0.6 is reached by 3/5 despite rounding.
EPSILON = 1e-9


def score_fraction(score: float | None, max_score: float | None) -> float | None:
    """A graded score as a fraction of the points; an exercise worth nothing is passed."""
    if score is None:
        return None
    if not max_score:
        return 1.0
    return max(0.0, min(1.0, score / max_score))


def passes(fraction: float | None, pass_mark: float) -> bool:
    """Whether a score fraction reaches the pass mark."""
    return fraction is not None and fraction + EPSILON >= pass_mark


def version_lessons(version: CourseVersion) -> list[Lesson]:
    """Every lesson of a version in reading order."""
    return [lesson for module in version.modules for lesson in module.lessons]


def completions_for(session: Session, user_id: int,
                    lesson_ids: Iterable[int]) -> dict[int, LessonCompletion]:
    """The user's completions of these lessons, by lesson id."""
    ids = list(lesson_ids)
    if not ids:
        return {}
    rows = session.scalars(select(LessonCompletion).where(
        LessonCompletion.user_id == user_id, LessonCompletion.lesson_id.in_(ids)))
    return {row.lesson_id: row for row in rows}


def enrolment_of(session: Session, user_id: int, course_id: int) -> Enrolment | None:
    """The user's enrolment in a course, if any."""
    return session.scalar(select(Enrolment).where(Enrolment.user_id == user_id,
                                                  Enrolment.course_id == course_id))


def update_course_completion(session: Session, enrolment: Enrolment) -> bool:
    """Mark the enrolment complete when every lesson of its version is; True if complete."""
    if enrolment.completed_at is not None:
        return True
    lessons = version_lessons(enrolment.course_version)
    done = completions_for(session, enrolment.user_id, (lesson.id for lesson in lessons))
    if lessons and all(lesson.id in done for lesson in lessons):
        enrolment.completed_at = utcnow()
        return True
    return False


def finish(session: Session, enrolment: Enrolment | None, issuer: IssuerConfig | None) -> None:
    """After a commit: issue the credential of a completed enrolment (idempotent).

    The completion is already committed; a failure to sign is logged, not
    raised, so the learner's progress is kept, and the next progress event
    (or enrolling again) issues the credential.
    """
    if enrolment is None or enrolment.completed_at is None or issuer is None:
        return
    try:
        issue_credential(session, enrolment.user, enrolment.course_version, config=issuer)
    except Exception:
        log.exception("enrolment %s: issuing the credential failed", enrolment.id)
        session.rollback()


def _inserted(session: Session, completion: LessonCompletion) -> bool:
    """Insert a completion; False (rolled back) when a concurrent request inserted it first."""
    session.add(completion)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        return False
    return True


def complete_reading(session: Session, lesson_id: int, viewer: User | None, *,
                     issuer: IssuerConfig | None) -> tuple[LessonCompletion, Enrolment | None]:
    """Mark a reading lesson read; idempotent. Exercises complete by being passed.

    Returns the completion and the enrolment it counts for (None when the
    viewer is not enrolled in the lesson's course version).
    """
    if viewer is None:
        raise UnauthorizedError("Sign in to record your progress.")
    lesson = get_lesson(session, lesson_id, viewer)
    if lesson.kind != LessonKind.READING:
        raise ConflictError("An exercise is completed when a graded submission reaches the "
                            "course's pass mark, not by marking it.")
    if lesson.questions:
        raise ConflictError("This lesson is completed when your points on its questions reach "
                            "the course's pass mark, not by marking it read.")
    completion = completions_for(session, viewer.id, [lesson.id]).get(lesson.id)
    if completion is None:
        completion = LessonCompletion(user_id=viewer.id, lesson_id=lesson.id,
                                      kind=CompletionKind.READ, completed_at=utcnow())
        if not _inserted(session, completion):
            return complete_reading(session, lesson_id, viewer, issuer=issuer)
    version = lesson.module.course_version
    enrolment = enrolment_of(session, viewer.id, version.course_id)
    if enrolment is not None and enrolment.course_version_id != version.id:
        enrolment = None  # a lesson of another version: it does not count for the enrolment
    if enrolment is not None:
        update_course_completion(session, enrolment)
    session.commit()
    finish(session, enrolment, issuer)
    return completion, enrolment


def record_graded_submission(session: Session, submission_id: int, *,
                             issuer: IssuerConfig | None) -> bool:
    """Update progress after a submission was graded; True when its exercise is completed.

    Called by the grading worker after its commit. Completion counts for the
    version the exercise belongs to (the submission's `course_version_id`).
    """
    submission = session.get(Submission, submission_id)
    if submission is None or submission.state != SubmissionState.GRADED or submission.preview:
        return False  # an author's try-out is no learner's progress
    version = session.get(CourseVersion, submission.course_version_id)
    lesson = submission.exercise.lesson
    fraction = score_fraction(submission.score, submission.max_score)
    if not passes(fraction, version.pass_mark):
        return False
    if lesson.questions and not passes(quiz_fraction(session, submission.user_id, lesson),
                                       version.pass_mark):
        return False  # the lesson's questions are still to be answered
    completion = completions_for(session, submission.user_id, [lesson.id]).get(lesson.id)
    if completion is None:
        if not _inserted(session, LessonCompletion(
                user_id=submission.user_id, lesson_id=lesson.id, kind=CompletionKind.PASSED,
                submission_id=submission.id, score_fraction=fraction)):
            return record_graded_submission(session, submission_id, issuer=issuer)
    elif completion.score_fraction is None or fraction > completion.score_fraction:
        completion.score_fraction = fraction  # keep the best score on record
    enrolment = enrolment_of(session, submission.user_id, version.course_id)
    if enrolment is not None and enrolment.course_version_id == version.id:
        update_course_completion(session, enrolment)
    session.commit()
    finish(session, enrolment, issuer)
    return True


def best_scores(session: Session, user_id: int, exercise_ids: Iterable[int]
                ) -> dict[int, tuple[float, float | None, int]]:
    """Per exercise: (best score fraction, its score, graded submission count)."""
    ids = list(exercise_ids)
    best: dict[int, tuple[float, float | None, int]] = {}
    if not ids:
        return best
    rows = session.execute(select(Submission.exercise_id, Submission.score, Submission.max_score)
                           .where(Submission.user_id == user_id,
                                  Submission.exercise_id.in_(ids),
                                  Submission.state == SubmissionState.GRADED))
    for exercise_id, score, max_score in rows:
        fraction = score_fraction(score, max_score)
        if fraction is None:
            continue
        previous = best.get(exercise_id)
        count = (previous[2] if previous else 0) + 1
        if previous is None or fraction > previous[0]:
            best[exercise_id] = (fraction, score, count)
        else:
            best[exercise_id] = (previous[0], previous[1], count)
    return best


def best_quiz_points(session: Session, user_id: int,
                     question_ids: Iterable[int]) -> dict[int, tuple[float, int]]:
    """Per question: (best points scored, attempts made) of one learner."""
    ids = list(question_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(QuizAttempt.question_id, func.max(QuizAttempt.points), func.count(QuizAttempt.id))
        .where(QuizAttempt.user_id == user_id, QuizAttempt.question_id.in_(ids))
        .group_by(QuizAttempt.question_id))
    return {question_id: (float(points), count) for question_id, points, count in rows}


def quiz_fraction(session: Session, user_id: int, lesson: Lesson) -> float | None:
    """The learner's best points on a lesson's questions, as a fraction of their points."""
    questions: list[QuizQuestion] = list(lesson.questions)
    if not questions:
        return None
    best = best_quiz_points(session, user_id, (q.id for q in questions))
    total = sum(q.points for q in questions)
    scored = sum(best.get(q.id, (0.0, 0))[0] for q in questions)
    return score_fraction(scored, total)


def record_quiz_progress(session: Session, lesson: Lesson, user_id: int, *,
                         issuer: IssuerConfig | None) -> bool:
    """Complete a lesson whose question points reach the pass mark; True if it is completed.

    Called after an attempt is flushed; commits. An exercise with questions
    completes when its best graded submission passes too.
    """
    version = lesson.module.course_version
    fraction = quiz_fraction(session, user_id, lesson)
    completion = completions_for(session, user_id, [lesson.id]).get(lesson.id)
    if not passes(fraction, version.pass_mark):
        session.commit()
        return completion is not None
    if lesson.exercise is not None:
        best = best_scores(session, user_id, [lesson.exercise.id]).get(lesson.exercise.id)
        if not passes(best[0] if best else None, version.pass_mark):
            session.commit()
            return completion is not None
    if completion is None:
        if not _inserted(session, LessonCompletion(
                user_id=user_id, lesson_id=lesson.id, kind=CompletionKind.PASSED,
                score_fraction=fraction)):
            return record_quiz_progress(session, lesson, user_id, issuer=issuer)
    elif completion.score_fraction is not None and fraction is not None \
            and fraction > completion.score_fraction and lesson.exercise is None:
        completion.score_fraction = fraction  # keep the best score on record
    enrolment = enrolment_of(session, user_id, version.course_id)
    if enrolment is not None and enrolment.course_version_id != version.id:
        enrolment = None
    if enrolment is not None:
        update_course_completion(session, enrolment)
    session.commit()
    finish(session, enrolment, issuer)
    return True

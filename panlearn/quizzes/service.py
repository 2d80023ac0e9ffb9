"""Quiz use cases: answer a question, and a learner's state of a lesson's questions.

An attempt is graded in the request (no kernel, no queue), committed, and only
then counted for progress (as the grading worker does for submissions), so a
progress failure can never lose an answer. The explanation is shown once a
question is finished: answered for full marks, or out of attempts; before
that it would give the answer away to the next attempt.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from panlearn.catalogue import get_lesson
from panlearn.credentials.service import IssuerConfig
from panlearn.errors import ConflictError, NotFoundError, UnauthorizedError
from panlearn.models import Course, Lesson, QuizAttempt, QuizQuestion, User, utcnow
from panlearn.progress.completion import record_quiz_progress
from panlearn.quizzes.grading import Verdict, awarded_points, grade, normalise_answer
from panlearn.quizzes.moodle import ExportedQuestion
from panlearn.quizzes.questions import Question, parse_question

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AttemptResult:
    """What answering a question gives back, at once."""

    question_id: str
    attempt: int
    correct: bool
    points: float
    max_points: float
    feedback: str | None
    explanation: str | None
    attempts_left: int | None
    lesson_completed: bool


@dataclass(frozen=True)
class QuestionState:
    """One learner's state of one question, for the lesson page and `GET /api/quizzes/<id>`."""

    row: QuizQuestion
    question: Question
    attempts: int
    best_points: float
    last_answer: Any
    last_verdict: Verdict | None
    last_points: float | None

    @property
    def attempts_left(self) -> int | None:
        """Attempts still allowed, None when unlimited."""
        limit = self.row.max_attempts
        return None if limit is None else max(0, limit - self.attempts)

    @property
    def finished(self) -> bool:
        """Answered for full marks, or no attempt left: the explanation may be shown."""
        return (self.last_verdict is not None and self.last_verdict.correct) or \
            self.attempts_left == 0


def question_of(row: QuizQuestion) -> Question:
    """The validated question a row stores."""
    return parse_question(row.spec)


def find_question(lesson: Lesson, key: str) -> QuizQuestion:
    """A lesson's question by the author's id, or NotFoundError."""
    for row in lesson.questions:
        if row.key == key:
            return row
    raise NotFoundError(f"Lesson {lesson.id} has no question {key!r}.")


def _previous(session: Session, question_id: int, user_id: int) -> tuple[int, int]:
    """(attempts made, attempts that did not score in full) on a question."""
    flags = session.scalars(select(QuizAttempt.correct).where(
        QuizAttempt.question_id == question_id, QuizAttempt.user_id == user_id)).all()
    return len(flags), sum(not correct for correct in flags)


def answer_question(session: Session, lesson_id: int, key: str, viewer: User | None,
                    answer: Any, *, issuer: IssuerConfig | None) -> AttemptResult:
    """Grade and record one answer; count it toward the lesson's completion."""
    if viewer is None:
        raise UnauthorizedError("Sign in to answer: your answers are recorded.")
    lesson = get_lesson(session, lesson_id, viewer)
    row = find_question(lesson, key)
    question = question_of(row)
    canonical = normalise_answer(question, answer)
    total, imperfect = _previous(session, row.id, viewer.id)
    if row.max_attempts is not None and total >= row.max_attempts:
        raise ConflictError(f"No attempts left: question {key!r} allows {row.max_attempts}.")
    verdict = grade(question, canonical)
    points = awarded_points(question, verdict, imperfect)
    attempt = QuizAttempt(question_id=row.id, user_id=viewer.id, number=total + 1,
                          answer=canonical, correct=verdict.correct, fraction=verdict.fraction,
                          points=points, max_points=question.points, created_at=utcnow())
    session.add(attempt)
    try:
        session.commit()
    except IntegrityError:
        # A concurrent answer took this attempt's number: count again (the limit may be hit).
        session.rollback()
        return answer_question(session, lesson_id, key, viewer, answer, issuer=issuer)
    completed = _count_progress(session, lesson, viewer.id, issuer)
    left = None if row.max_attempts is None else max(0, row.max_attempts - attempt.number)
    finished = verdict.correct or left == 0
    return AttemptResult(
        question_id=key, attempt=attempt.number, correct=verdict.correct, points=points,
        max_points=question.points, feedback=verdict.feedback,
        explanation=question.explanation if finished else None, attempts_left=left,
        lesson_completed=completed)


def _count_progress(session: Session, lesson: Lesson, user_id: int,
                    issuer: IssuerConfig | None) -> bool:
    """Lesson completion after a committed attempt; a failure is logged, never raised."""
    try:
        return record_quiz_progress(session, lesson, user_id, issuer=issuer)
    except Exception:  # the answer is recorded; a later attempt repairs the progress
        log.exception("lesson %s, user %s: recording quiz progress failed", lesson.id, user_id)
        session.rollback()
        return False


def lesson_states(session: Session, lesson: Lesson,
                  viewer: User | None) -> dict[str, QuestionState]:
    """Every question of a lesson with the viewer's attempts (none for anonymous viewers)."""
    rows = list(lesson.questions)
    attempts: dict[int, list[QuizAttempt]] = {row.id: [] for row in rows}
    if viewer is not None and rows:
        for attempt in session.scalars(
                select(QuizAttempt).where(QuizAttempt.user_id == viewer.id,
                                          QuizAttempt.question_id.in_(list(attempts)))
                .order_by(QuizAttempt.number)):
            attempts[attempt.question_id].append(attempt)
    states: dict[str, QuestionState] = {}
    for row in rows:
        question = question_of(row)
        mine = attempts[row.id]
        last = mine[-1] if mine else None
        states[row.key] = QuestionState(
            row=row, question=question, attempts=len(mine),
            best_points=max((a.points for a in mine), default=0.0),
            last_answer=last.answer if last else None,
            last_verdict=grade(question, last.answer) if last else None,
            last_points=last.points if last else None)
    return states


def public_questions(states: Iterable[QuestionState]) -> list[dict[str, Any]]:
    """The `GET /api/quizzes/<lesson id>` items: public view and the viewer's attempts."""
    items = []
    for state in states:
        item = state.question.public()
        item.pop("attempts", None)
        if state.row.max_attempts is not None:  # the question's own limit, else the course's
            item["attempts"] = state.row.max_attempts
        item.update({
            "attempts_used": state.attempts, "attempts_left": state.attempts_left,
            "best_points": state.best_points if state.attempts else None,
            "finished": state.finished,
            "explanation": state.question.explanation if state.finished else None,
        })
        items.append(item)
    return items


def course_questions(session: Session, slug: str,
                     version_number: int | None = None) -> list[ExportedQuestion]:
    """Every question of a course version (the newest by default), by lesson, for export."""
    course = session.scalar(select(Course).where(Course.slug == slug))
    if course is None or not course.versions:
        raise NotFoundError(f"No course {slug!r}.")
    versions = {version.number: version for version in course.versions}
    if version_number is not None and version_number not in versions:
        raise NotFoundError(f"No version {version_number} of {slug!r}.")
    version = versions[version_number] if version_number is not None else course.versions[-1]
    return [ExportedQuestion(category=f"{version.title}/{lesson.title}",
                             question=question_of(row))
            for module in version.modules for lesson in module.lessons
            for row in lesson.questions]

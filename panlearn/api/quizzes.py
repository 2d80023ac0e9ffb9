"""Quiz questions: a lesson's questions as a learner sees them, and answering one."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from panlearn.api.identity import current_user
from panlearn.catalogue import get_lesson
from panlearn.extensions import db
from panlearn.quizzes.service import answer_question, lesson_states, public_questions
from panlearn.schemas.quizzes import LessonQuizSchema, QuizAnswerSchema, QuizAttemptSchema
from panlearn.wiring import services

bp = Blueprint("quizzes", __name__, url_prefix="/api/quizzes", description="Quiz questions")


@bp.route("/<int:lesson_id>")
@bp.response(200, LessonQuizSchema)
def lesson_quiz(lesson_id: int) -> dict[str, Any]:
    """The lesson's questions and options (never their answers), with your attempts."""
    viewer = current_user()
    lesson = get_lesson(db.session, lesson_id, viewer)
    states = lesson_states(db.session, lesson, viewer)
    return {"lesson_id": lesson.id, "pass_mark": lesson.module.course_version.pass_mark,
            "items": public_questions(states.values())}


@bp.route("/<int:lesson_id>/<question_id>/answers", methods=["POST"])
@bp.arguments(QuizAnswerSchema)
@bp.response(201, QuizAttemptSchema)
@bp.doc(security=[{"bearer": []}])
def answer(args: dict[str, Any], lesson_id: int, question_id: str) -> Any:
    """Answer a question: graded at once, recorded as an attempt.

    `answer` is the 0-based option index (choice), a list of indices (multi), a
    number (numeric) or a string (text). 409 when no attempt is left.
    """
    return answer_question(db.session, lesson_id, question_id, current_user(), args["answer"],
                           issuer=services().issuer)

"""Quiz questions on pages: each ```quiz block becomes a small form, answered without JavaScript.

The cached lesson rendering holds a marker where each question goes
(`<!--pl-quiz:<id>-->`; notebook content cannot forge one, the sanitiser
strips comments). Pages replace the markers at serve time, because a form
carries the visitor's CSRF token and their last answer and feedback:

- the lesson page: a form per question (POST to `/lessons/<id>/quizzes/<qid>`,
  then back to the question), or a read-only view with a sign-in link;
- embeds and slides: the read-only view (question and options), linking to the lesson.

`static/js/quiz.js` enhances the forms: it posts them in the background and
swaps in the question's new state from the page it gets back, so the reader
keeps their place. Nothing in any of these views comes from the answer key
until the learner has answered.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from markupsafe import Markup

from panlearn.api.identity import current_user
from panlearn.catalogue import get_lesson
from panlearn.errors import ConflictError, InvalidInputError
from panlearn.extensions import db
from panlearn.models import Lesson, User
from panlearn.notebooks.render import render_markdown
from panlearn.progress.completion import completions_for
from panlearn.quizzes.service import QuestionState, answer_question, find_question, lesson_states
from panlearn.wiring import services

bp = Blueprint("quiz_pages", __name__)

MARKER = re.compile(r"<!--pl-quiz:([A-Za-z0-9][A-Za-z0-9_-]{0,63})-->")
LEGENDS = {"choice": "Choose one answer", "multi": "Choose every right answer",
           "numeric": "Your answer", "text": "Your answer"}


@dataclass(frozen=True)
class QuizView:
    """What the `_quiz.html` template shows for one question."""

    state: QuestionState
    number: int
    action: str | None
    error: str | None
    page_url: str | None

    @property
    def key(self) -> str:
        """The author's id of the question (the HTML id is `quiz-<key>`)."""
        return self.state.row.key

    @property
    def question(self) -> Any:
        """The validated question."""
        return self.state.question

    @property
    def legend(self) -> str:
        """What the answer fieldset asks for."""
        return LEGENDS[self.question.type]

    def html(self, text: str | None, *, inline: bool = False) -> Markup | None:
        """Markdown of the author (question, option, feedback) as safe HTML."""
        return Markup(render_markdown(text, inline=inline)) if text else None  # noqa: S704

    def checked(self, index: int) -> bool:
        """Whether the learner's last answer picked this option."""
        last = self.state.last_answer
        return last == index if self.question.type == "choice" else \
            isinstance(last, list) and index in last

    @property
    def value(self) -> str:
        """The learner's last numeric or text answer, to show in the input."""
        last = self.state.last_answer
        if last is None or self.question.type not in {"numeric", "text"}:
            return ""
        return f"{last:g}" if isinstance(last, float) else str(last)


def with_questions(fragment: str, lesson: Lesson, viewer: User | None, *,
                   interactive: bool, errors: Mapping[str, str] | None = None) -> str:
    """The rendered lesson with every question marker replaced by its form or view."""
    if "<!--pl-quiz:" not in fragment or not lesson.questions:
        return fragment
    states = lesson_states(db.session, lesson, viewer)
    numbers = {key: number for number, key in enumerate(states, start=1)}
    page_url = url_for("pages.lesson", lesson_id=lesson.id, _external=not interactive)

    def replace(match: re.Match[str]) -> str:
        state = states.get(match.group(1))
        if state is None:
            return ""
        action = url_for("quiz_pages.answer", lesson_id=lesson.id, question_id=state.row.key) \
            if interactive and viewer is not None else None
        view = QuizView(state=state, number=numbers[state.row.key], action=action,
                        error=(errors or {}).get(state.row.key), page_url=page_url)
        return render_template("_quiz.html", quiz=view, interactive=interactive)

    return MARKER.sub(replace, fragment)


@dataclass(frozen=True)
class QuizSummary:
    """A learner's standing on a lesson's questions, shown under the lesson."""

    questions: int
    answered: int
    points: float
    best_points: float
    pass_mark: float
    completed: bool


def quiz_summary(session: Any, lesson: Lesson, viewer: User | None) -> QuizSummary:
    """How far the viewer is with the lesson's questions (nothing answered for anonymous)."""
    states = lesson_states(session, lesson, viewer).values()
    completed = viewer is not None and bool(completions_for(session, viewer.id, [lesson.id]))
    return QuizSummary(questions=len(states), answered=sum(s.attempts > 0 for s in states),
                       points=sum(s.question.points for s in states),
                       best_points=round(sum(s.best_points for s in states), 6),
                       pass_mark=lesson.module.course_version.pass_mark, completed=completed)


def _form_answer(question_type: str) -> Any:
    """The answer as the form sends it: one field `answer`, repeated for `multi`."""
    if question_type == "multi":
        return request.form.getlist("answer")
    value = request.form.get("answer")
    if value is None or not value.strip():
        raise InvalidInputError("Give an answer first.", errors={"answer": ["missing"]})
    return value


@bp.route("/lessons/<int:lesson_id>/quizzes/<question_id>", methods=["POST"])
def answer(lesson_id: int, question_id: str) -> Any:
    """Answer a question from the lesson page; back to the question with its feedback."""
    from panlearn.web.pages import lesson as lesson_page

    back = url_for("pages.lesson", lesson_id=lesson_id, _anchor=f"quiz-{question_id}")
    viewer = current_user()
    if viewer is None:
        return redirect(url_for("signin.login", next=back), code=303)
    FlaskForm().validate()  # CSRFProtect has checked the token; the answer is read below
    lesson = get_lesson(db.session, lesson_id, viewer)
    row = find_question(lesson, question_id)
    try:
        answer_question(db.session, lesson.id, row.key, viewer, _form_answer(row.type),
                        issuer=services().issuer)
    except (InvalidInputError, ConflictError) as error:
        # Shown at the question, with the page around it (status 400 / 409 for scripts).
        status = 409 if isinstance(error, ConflictError) else 400
        return lesson_page(lesson_id, quiz_errors={row.key: error.detail}), status
    return redirect(back, code=303)

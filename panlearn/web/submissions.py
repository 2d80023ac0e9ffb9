"""Submitting an exercise from its page, and the page that shows the result.

Works without JavaScript: the form posts the notebook (CSRF-protected), the
platform commits the submission and redirects to its page, which refreshes
itself every second until the grading is done.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for

from panlearn.api.identity import current_user
from panlearn.errors import PanlearnError
from panlearn.extensions import db
from panlearn.grading.queue import poll_after
from panlearn.grading.runtime import grading_settings
from panlearn.grading.submissions import (
    get_submission,
    latest_run,
    submission_limits,
    submit_notebook,
)
from panlearn.web.forms import SubmissionForm

bp = Blueprint("submissions_pages", __name__)


@bp.route("/lessons/<int:lesson_id>/submissions", methods=["POST"])
def submit(lesson_id: int) -> Response | tuple[str, int] | tuple[str, int, dict[str, str]]:
    """Hand in the uploaded notebook, then show its submission page."""
    from panlearn.web.pages import lesson

    viewer = current_user()
    if viewer is None:
        return redirect(url_for("signin.login", next=url_for("pages.lesson",
                                                              lesson_id=lesson_id)), code=303)
    form = SubmissionForm()
    if not form.validate():
        return lesson(lesson_id, upload_error="Choose your completed notebook (.ipynb) to "
                                              "submit."), 400
    from panlearn.catalogue import get_lesson

    found = get_lesson(db.session, lesson_id, viewer)
    if found.exercise is None:
        return lesson(lesson_id, upload_error="This lesson has no exercise to submit."), 400
    settings = current_app.config["PANLEARN"]
    try:
        submission = submit_notebook(db.session, found.exercise, viewer,
                                     form.notebook.data.read(),
                                     limits=submission_limits(settings),
                                     settings=grading_settings(settings))
    except PanlearnError as error:  # the page explains it; Retry-After and such stay
        return lesson(lesson_id, upload_error=error.detail), error.status, error.headers
    current_app.extensions["panlearn.dispatcher"].enqueue(submission.id)
    return redirect(url_for("submissions_pages.show", submission_id=submission.id), code=303)


@bp.route("/submissions/<int:submission_id>")
def show(submission_id: int) -> str:
    """A submission's state and per-check feedback (its owner and the exercise's authors)."""
    viewer = current_user()
    if viewer is None:
        return redirect(url_for("signin.login", next=request.path), code=303)
    submission = get_submission(db.session, submission_id, viewer)
    return render_template("submission.html", submission=submission,
                           run=latest_run(submission), lesson=submission.exercise.lesson,
                           refresh_s=poll_after(db.session, submission))

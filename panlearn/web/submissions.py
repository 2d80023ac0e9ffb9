"""Submitting an exercise from its page, and the page that shows the result.

Works without JavaScript: the form posts the notebook (CSRF-protected), the
platform commits the submission and redirects to its page, which refreshes
itself every one or two seconds until the grading is done (with JavaScript it
asks the API every second instead, and reloads once). A refused upload
re-renders the exercise page scrolled to the form, with the reason beside it.
"""

from __future__ import annotations

from flask import Blueprint, Response, redirect, render_template, request, url_for

from panlearn.api.identity import current_user
from panlearn.errors import PanlearnError
from panlearn.extensions import db
from panlearn.grading.queue import poll_after
from panlearn.grading.submissions import (
    get_submission,
    latest_run,
    submit_notebook,
)
from panlearn.web.forms import SubmissionForm
from panlearn.wiring import services

bp = Blueprint("submissions_pages", __name__)

#: Bounds of the result page's reload without JavaScript, in seconds. The queue's hint
#: (`poll_after`) may say ten; a page left waiting that long after a one-second grading
#: feels broken, and one page view a second or two per waiting student is cheap.
PAGE_REFRESH_S = (1, 2)


def page_refresh(hint: int | None) -> int | None:
    """Seconds until the result page reloads itself (None once the result is in)."""
    if hint is None:
        return None
    low, high = PAGE_REFRESH_S
    return max(low, min(high, hint))


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
    wired = services()
    try:
        submission = submit_notebook(db.session, found.exercise, viewer,
                                     form.notebook.data.read(),
                                     limits=wired.submission_limits, settings=wired.grading,
                                     after_commit=wired.submitted_hooks)
    except PanlearnError as error:  # the page explains it; Retry-After and such stay
        return lesson(lesson_id, upload_error=error.detail), error.status, error.headers
    return redirect(url_for("submissions_pages.show", submission_id=submission.id), code=303)


@bp.route("/submissions/<int:submission_id>")
def show(submission_id: int) -> Response | str:
    """A submission's state and per-check feedback (its owner and the exercise's authors)."""
    viewer = current_user()
    if viewer is None:
        return redirect(url_for("signin.login", next=request.path), code=303)
    submission = get_submission(db.session, submission_id, viewer)
    return render_template("submission.html", submission=submission,
                           run=latest_run(submission), lesson=submission.exercise.lesson,
                           refresh_s=page_refresh(poll_after(db.session, submission)))


@bp.route("/submissions/<int:submission_id>/notebook")
def notebook(submission_id: int) -> Response | str:
    """The executed notebook with each check's result, styled like a lesson, with maths."""
    from panlearn.grading.feedback import feedback_html

    viewer = current_user()
    if viewer is None:
        return redirect(url_for("signin.login", next=request.path), code=303)
    submission = get_submission(db.session, submission_id, viewer)
    fragment = feedback_html(submission, cache_dir=services().render_cache_dir)
    return render_template("submission_notebook.html", submission=submission,
                           lesson=submission.exercise.lesson, fragment=fragment)

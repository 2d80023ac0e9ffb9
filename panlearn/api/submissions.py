"""Submissions: hand in an exercise notebook, see the per-check feedback."""

from __future__ import annotations

from typing import Any

from flask import Response, request, url_for
from flask_smorest import Blueprint

from panlearn.api.identity import current_user
from panlearn.errors import InvalidInputError
from panlearn.extensions import db
from panlearn.grading.feedback import feedback_html
from panlearn.grading.queue import poll_after
from panlearn.grading.submissions import (
    check_pass_rates,
    get_exercise,
    get_submission,
    is_exercise_staff,
    latest_run,
    list_submissions,
    submit_notebook,
)
from panlearn.models import Submission
from panlearn.schemas.submissions import (
    SubmissionCreatedSchema,
    SubmissionListSchema,
    SubmissionSchema,
)
from panlearn.wiring import services

bp = Blueprint("submissions", __name__, url_prefix="/api", description="Submissions")

NOTEBOOK_BODY = {
    "content": {
        "multipart/form-data": {"schema": {"type": "object", "properties": {
            "notebook": {"type": "string", "format": "binary"}}, "required": ["notebook"]}},
        "application/json": {"schema": {"type": "object", "description": "An nbformat 4 "
                                                                          "notebook."}},
    },
    "required": True,
}


def present(submission: Submission) -> dict[str, Any]:
    """The fields of `SubmissionSchema`."""
    run = latest_run(submission)
    checks = []
    for check in run.checks if run else []:
        passed = check.status == "passed"
        checks.append({
            "grade_id": check.grade_id, "name": check.name, "passed": passed,
            "status": check.status, "score": check.score, "max_score": check.max_score,
            "points": check.score, "max_points": check.max_score,
            "message": "" if passed else check.output, "output": check.output,
            "visibility": check.visibility, "ran": check.ran, "tamper_proof": check.tamper_proof,
        })
    return {
        "id": submission.id, "exercise_id": submission.exercise_id,
        "user": submission.user.username, "state": submission.state.value,
        "score": submission.score, "max_score": submission.max_score, "checks": checks,
        "notes": run.notes if run else [], "error": submission.error,
        "attempts": submission.attempts, "runs": len(submission.runs),
        "timings": run.timings if run else {}, "created_at": submission.created_at,
        "finished_at": submission.finished_at,
        "feedback_url": (f"/api/submissions/{submission.id}/feedback"
                         if run and run.executed_notebook_hash else None),
        "url": f"/api/submissions/{submission.id}",
    }


def _uploaded_notebook() -> bytes:
    if "notebook" in request.files:
        return request.files["notebook"].read()
    if request.is_json:
        return request.get_data()
    raise InvalidInputError("Send the notebook as the multipart field `notebook` or as a JSON "
                            "body.", errors={"notebook": ["missing"]})


@bp.route("/exercises/<int:exercise_id>/submissions", methods=["POST"])
@bp.doc(requestBody=NOTEBOOK_BODY, security=[{"bearer": []}])
@bp.response(202, SubmissionCreatedSchema)
def create(exercise_id: int) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Submit a notebook for grading; poll the `Location` for the result.

    429 with `Retry-After` when the student is over the hourly limit of the
    exercise (refused notebooks count) or has too many submissions waiting.
    """
    wired = services()
    viewer = current_user()
    exercise = get_exercise(db.session, exercise_id, viewer)
    submission = submit_notebook(db.session, exercise, viewer, _uploaded_notebook(),
                                 limits=wired.submission_limits, settings=wired.grading,
                                 after_commit=wired.submitted_hooks)
    location = url_for("submissions.get_one", submission_id=submission.id)
    return {"id": submission.id, "state": submission.state.value, "url": location}, 202, {
        "Location": location}


@bp.route("/submissions/<int:submission_id>")
@bp.response(200, SubmissionSchema, headers={"Retry-After": {
    "description": "While the submission is queued or running: seconds until polling again "
                   "is worth it (from its place in the queue and the recent grading rate).",
    "schema": {"type": "integer", "minimum": 1}}})
@bp.doc(security=[{"bearer": []}])
def get_one(submission_id: int) -> tuple[dict[str, Any], int, dict[str, str]]:
    """A submission's state, score and per-check feedback (its owner and the authors)."""
    submission = get_submission(db.session, submission_id, current_user())
    wait = poll_after(db.session, submission)
    return present(submission), 200, ({"Retry-After": str(wait)} if wait else {})


@bp.route("/submissions/<int:submission_id>/feedback")
@bp.response(200, content_type="text/html", description="The executed notebook as HTML.")
@bp.doc(security=[{"bearer": []}])
def feedback(submission_id: int) -> Response:
    """The executed notebook with each check's result, as a sanitised HTML page."""
    submission = get_submission(db.session, submission_id, current_user())
    html = feedback_html(submission, cache_dir=services().render_cache_dir)
    return Response(html, mimetype="text/html")


@bp.route("/exercises/<int:exercise_id>/submissions")
@bp.response(200, SubmissionListSchema)
@bp.doc(security=[{"bearer": []}])
def list_all(exercise_id: int) -> dict[str, Any]:
    """Your submissions; all of them, with per-check pass rates, for the authors."""
    viewer = current_user()
    exercise = get_exercise(db.session, exercise_id, viewer)
    items = list_submissions(db.session, exercise, viewer)
    rates = check_pass_rates(db.session, exercise, viewer) if is_exercise_staff(
        viewer, exercise) else None
    return {"items": [present(s) for s in items], "pass_rates": rates}

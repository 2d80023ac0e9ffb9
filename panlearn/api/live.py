"""Live runs and drafts: what the exercise page uses to run cells and keep a learner's work.

`POST …/runs` waits for the run (about a second; the run itself happens on a
grading worker, queued with submissions, see `grading.runs`) and answers with
its outputs, as nbformat JSON and as the sanitised HTML a lesson page shows.
Signed-in users only, unless `PANLEARN_LIVE_ANONYMOUS`; rate-limited per user
(per client address for anonymous viewers).
"""

from __future__ import annotations

from typing import Any

from flask_limiter.util import get_remote_address
from flask_smorest import Blueprint

from panlearn.api.identity import current_user
from panlearn.catalogue import get_lesson
from panlearn.errors import GradingError, PanlearnError
from panlearn.extensions import db, limiter
from panlearn.grading.drafts import delete_draft, draft_notebook, get_draft, save_draft
from panlearn.grading.runs import (
    FinishedRun,
    may_run,
    request_run,
    wait_for_run,
)
from panlearn.grading.submissions import get_exercise
from panlearn.models import Lesson, LiveRunState, User
from panlearn.notebooks.render import render_outputs
from panlearn.schemas.live import (
    DraftSavedSchema,
    DraftSaveSchema,
    DraftSchema,
    RunRequestSchema,
    RunResultSchema,
)
from panlearn.wiring import services

bp = Blueprint("live", __name__, url_prefix="/api",
               description="Live runs and drafts: run a lesson's cells on the grading workers; "
                           "autosaved exercise notebooks")



def _run_errors(view: Any) -> Any:
    """A run's own errors, as the shared problem responses every operation documents.

    429: over `PANLEARN_LIVE_RUN_RATE`, or `PANLEARN_LIVE_QUEUED_PER_STUDENT` runs
    already going; 503: no grading worker took the run in time. Both send `Retry-After`.
    """
    view = bp.alt_response(429, response="TOO_MANY_REQUESTS")(view)
    return bp.alt_response(503, response="SERVICE_UNAVAILABLE")(view)


def _rate_key() -> str:
    """Runs and saves are counted per user; per client address for anonymous viewers."""
    try:
        viewer = current_user()
    except PanlearnError:
        viewer = None
    return f"user:{viewer.id}" if viewer is not None else f"address:{get_remote_address()}"


def _limit(setting: str, scope: str) -> Any:
    return limiter.limit(lambda: services().settings[setting], key_func=_rate_key,
                         scope=scope, methods=["POST", "PUT"])


@bp.route("/exercises/<int:exercise_id>/runs", methods=["POST"])
@_limit("LIVE_RUN_RATE", "live-runs")
@bp.arguments(RunRequestSchema)
@bp.response(200, RunResultSchema)
@bp.doc(security=[{"bearer": []}])
@_run_errors
def run_exercise_cell(body: dict[str, Any], exercise_id: int) -> dict[str, Any]:
    """Run a cell of the exercise and the cells above it, as your notebook has them.

    On a fresh sandbox with your own data file (read-only at `/data/<name>`),
    never seeing hidden checks: every cell but those you may edit is the
    student version's. 429 over `PANLEARN_LIVE_RUN_RATE` or with
    `PANLEARN_LIVE_QUEUED_PER_STUDENT` runs going, 503 when no worker took the
    run in time; both with `Retry-After`.
    """
    viewer = current_user()
    may_run(viewer, services().run_limits)
    exercise = get_exercise(db.session, exercise_id, viewer)
    return _run(exercise.lesson, viewer, body)


@bp.route("/lessons/<int:lesson_id>/runs", methods=["POST"])
@_limit("LIVE_RUN_RATE", "live-runs")
@bp.arguments(RunRequestSchema)
@bp.response(200, RunResultSchema)
@bp.doc(security=[{"bearer": []}])
@_run_errors
def run_lesson_cell(body: dict[str, Any], lesson_id: int) -> dict[str, Any]:
    """Run a cell of any lesson and the cells above it (a live embed in a lecturer's slides).

    The same limits and errors as an exercise's runs.
    """
    viewer = current_user()
    may_run(viewer, services().run_limits)
    return _run(get_lesson(db.session, lesson_id, viewer), viewer, body)


def _run(lesson: Lesson, viewer: User | None, body: dict[str, Any]) -> dict[str, Any]:
    wired = services()
    limits = wired.run_limits
    run = request_run(db.session, lesson, viewer, body["notebook"], body["cell"],
                      limits=limits, all_outputs=body["outputs"] == "all")
    # Committed first: dispatch after, so nothing is lost if dispatch fails.
    wired.dispatch(db.session, run.id)
    return present_run(wait_for_run(db.session, run, limits,
                                    wake=getattr(wired.dispatcher, "wake_on_finish", None)))


def present_run(finished: FinishedRun) -> dict[str, Any]:
    """The fields of `RunResultSchema`; a run the platform could not do is a 500 problem."""
    outcome = finished.outcome
    if finished.state != LiveRunState.DONE or outcome is None:
        raise GradingError(f"Your cells could not be run: {finished.error or 'unknown error'}. "
                           "This is our fault; run them again in a moment.")
    cells = []
    for cell in outcome.cells:
        cells.append({"cell": cell.cell, "status": cell.status, "outputs": cell.outputs,
                      "execution_count": cell.execution_count,
                      "html": render_outputs(cell.outputs) if cell.outputs else ""})
    target = cells[-1]
    return {"cell": outcome.cell, "status": outcome.status, "outputs": outcome.outputs,
            "html": target["html"], "execution_count": target["execution_count"],
            "ms": finished.ms, "message": outcome.message, "cells": cells,
            "timings": outcome.timings}


# -- drafts ----------------------------------------------------------------------------------

@bp.route("/exercises/<int:exercise_id>/draft")
@bp.response(200, DraftSchema)
@bp.doc(security=[{"bearer": []}])
def get_exercise_draft(exercise_id: int) -> dict[str, Any]:
    """Your last autosaved notebook of the exercise (`notebook` null when there is none)."""
    viewer = current_user()
    exercise = get_exercise(db.session, exercise_id, viewer)
    draft = get_draft(db.session, exercise, viewer)
    if draft is None:
        return {"notebook": None, "saved_at": None, "size": None}
    return {"notebook": draft_notebook(draft), "saved_at": draft.saved_at, "size": draft.size}


@bp.route("/exercises/<int:exercise_id>/draft", methods=["PUT"])
@_limit("LIVE_DRAFT_RATE", "live-drafts")
@bp.arguments(DraftSaveSchema)
@bp.response(200, DraftSavedSchema)
@bp.doc(security=[{"bearer": []}])
def put_exercise_draft(body: dict[str, Any], exercise_id: int) -> dict[str, Any]:
    """Save your notebook of the exercise as your draft; the last save is kept.

    Checked like a submission (400 for a notebook of another exercise, 413 over
    `PANLEARN_MAX_UPLOAD_MB`), never graded.
    """
    viewer = current_user()
    exercise = get_exercise(db.session, exercise_id, viewer)
    wired = services()
    draft = save_draft(db.session, exercise, viewer, body["notebook"],
                       limits=wired.submission_limits, settings=wired.grading)
    return {"saved_at": draft.saved_at, "size": draft.size}


@bp.route("/exercises/<int:exercise_id>/draft", methods=["DELETE"])
@bp.response(204)
@bp.doc(security=[{"bearer": []}])
def delete_exercise_draft(exercise_id: int) -> None:
    """Forget your draft: the page shows the exercise as it was first given."""
    viewer = current_user()
    exercise = get_exercise(db.session, exercise_id, viewer)
    delete_draft(db.session, exercise, viewer)

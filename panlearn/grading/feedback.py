"""The executed notebook of a grading run, as the HTML feedback a student reads."""

from __future__ import annotations

from pathlib import Path

import nbformat
from flask import Flask

from panlearn.errors import NotFoundError
from panlearn.grading.submissions import latest_run
from panlearn.models import Submission
from panlearn.notebooks.render import render_lesson


def render_cache_dir(app: Flask) -> Path:
    """Where rendered notebooks are cached (shared with lesson pages)."""
    return Path(app.config["PANLEARN"]["INSTANCE_DIR"]) / "cache" / "render"


def feedback_html(submission: Submission, *, cache_dir: Path) -> str:
    """Sanitised HTML of the latest run's executed notebook.

    The executed notebook holds the student's own code, the visible part of
    each check and the check's result; hidden tests were never put in it.
    It is rendered as it is (`solutions=True`): there is nothing to hide, and
    hiding would clear the outputs the student needs to see.
    """
    run = latest_run(submission)
    if run is None or run.executed_notebook is None:
        raise NotFoundError("This submission has no feedback yet.")
    notebook = nbformat.reads(run.executed_notebook.content.decode("utf-8"), as_version=4)
    return render_lesson(notebook, cache_dir, solutions=True, sha256=run.executed_notebook_hash)

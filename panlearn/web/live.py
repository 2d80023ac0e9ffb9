"""The server side of live pages: what `js/live.js` needs to run cells and keep drafts.

An exercise page becomes a live notebook for a signed-in learner: the page
renders the lesson as always (it works without JavaScript: download, upload),
and writes one JSON element (`live_config`) from which the script makes the
code cells editable and runnable, autosaves the draft and grades "Check my
work" through the submissions API. A live embed (`/embed/lessons/<id>?cell=…&live=1`)
gets the same script for one cell, for a lecturer's slides.

The notebook in the config is the student version (what the learner may
download anyway), without outputs; which cells may be edited is decided by
`grading.core.live.is_editable`, the rule the server applies when it runs them.
"""

from __future__ import annotations

import copy
import json
from typing import Any
from urllib.parse import urlencode

from flask import url_for
from markupsafe import Markup

from panlearn.errors import UnauthorizedError
from panlearn.grading.core import nbgrader
from panlearn.grading.reference import with_viewers_files
from panlearn.grading.runs import may_run, student_notebook
from panlearn.models import Exercise, Lesson, User
from panlearn.web import assets
from panlearn.web.security import style_nonce
from panlearn.wiring import services

#: The bundle of CodeMirror 6 that `assets` builds at install time.
EDITOR_BUNDLE = "codemirror.js"


def may_run_here(viewer: User | None) -> bool:
    """Whether this viewer gets runnable cells (signed in, or anonymous runs allowed)."""
    try:
        may_run(viewer, services().run_limits)
    except UnauthorizedError:
        return False
    return True


def live_config(lesson: Lesson, viewer: User | None, *, exercise: Exercise | None = None,
                cell: str | None = None) -> dict[str, Any]:
    """The live script's settings: endpoints, limits, the cells and which may be edited.

    With ``exercise`` the page keeps a draft and can check the work; with
    ``cell`` (an embed) only that cell is on the page.
    """
    from panlearn.grading.core.live import is_editable  # with the grading core, at first use

    notebook = student_notebook(lesson)
    # The parameters cell names the viewer's own files, as their download does; the
    # notebook's metadata (every file choice of every parameter) is not the page's business.
    notebook = with_viewers_files(notebook, exercise, viewer.id if viewer else None)
    cells = [c for c in notebook.cells if cell is None or c.get("id") == cell]
    shown = copy.deepcopy(notebook)
    shown.cells = cells
    shown.metadata = {key: value for key, value in notebook.metadata.items()
                      if key in ("kernelspec", "language_info")}
    for item in shown.cells:
        if item.get("cell_type") == "code":
            item.outputs, item.execution_count = [], None
    checks = {str(nbgrader.meta(c).get("grade_id")): c["id"] for c in notebook.cells
              if nbgrader.is_check_cell(c) and nbgrader.meta(c).get("grade_id")}
    settings = services().settings
    config: dict[str, Any] = {
        "lesson": lesson.id,
        "user": viewer.id if viewer is not None else None,
        "runs": (url_for("live.run_exercise_cell", exercise_id=exercise.id) if exercise
                 else url_for("live.run_lesson_cell", lesson_id=lesson.id)),
        "timeout_s": settings["LIVE_TIMEOUT_S"],
        "notebook": json.loads(json.dumps(shown)),
        "editable": [c["id"] for c in cells if is_editable(c)],
        "checks": checks if exercise is not None else {},
        "editor": bool(assets.bundle_path(EDITOR_BUNDLE)),
        # CodeMirror puts its styles in a <style> element; the page's CSP allows this one.
        "style_nonce": style_nonce(),
    }
    if exercise is not None and viewer is not None:
        config.update({
            "exercise": exercise.id,
            "draft": url_for("live.get_exercise_draft", exercise_id=exercise.id),
            "submissions": url_for("submissions.create", exercise_id=exercise.id),
            "result": url_for("submissions_pages.show", submission_id=0).removesuffix("0"),
            "points": exercise.points,
        })
    return config


def config_json(config: dict[str, Any]) -> Markup:
    """The config as the text of a `<script type="application/json">` (never executed).

    `<`, `>` and `&` are escaped as JSON unicode escapes, so a notebook's text
    cannot close the element.
    """
    text = json.dumps(config, ensure_ascii=False)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def editor_url() -> str | None:
    """Where the CodeMirror bundle is served, or None when it is not built (plain text areas)."""
    if assets.bundle_path(EDITOR_BUNDLE) is None:
        return None
    return url_for("vendor.bundle", name=EDITOR_BUNDLE)


def jupyterhub_link(lesson: Lesson) -> str | None:
    """An nbgitpuller link opening the course's git repository in `PANLEARN_JUPYTERHUB_URL`.

    Only for courses imported from a git repository: nbgitpuller clones (or
    updates) it into the learner's hub and opens it in JupyterLab.
    """
    hub = services().settings["JUPYTERHUB_URL"]
    origin = lesson.module.course_version.source_uri or ""
    if not hub or not origin.startswith("git:"):
        return None
    repository = origin.removeprefix("git:")
    if not repository.startswith(("https://", "http://")):
        return None  # a repository on the platform's own disk is nothing a hub can clone
    folder = repository.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")
    query = urlencode({"repo": repository, "urlpath": f"lab/tree/{folder}"})
    return f"{hub.rstrip('/')}/hub/user-redirect/git-pull?{query}"

"""Lessons: metadata and the notebook download."""

from __future__ import annotations

from typing import Any

import nbformat
from flask import Response
from flask_smorest import Blueprint

from panlearn.api.identity import current_user
from panlearn.api.present import lesson_detail
from panlearn.catalogue import get_lesson, lesson_notebook
from panlearn.extensions import db
from panlearn.grading.reference import with_viewers_files
from panlearn.schemas.courses import LessonSchema, NotebookArgsSchema

bp = Blueprint("lessons", __name__, url_prefix="/api/lessons", description="Lessons")


@bp.route("/<int:lesson_id>")
@bp.response(200, LessonSchema)
def get_one(lesson_id: int) -> dict[str, Any]:
    """A lesson's metadata, with `exercise_id` for exercises."""
    return lesson_detail(get_lesson(db.session, lesson_id, current_user()))


@bp.route("/<int:lesson_id>/notebook")
@bp.arguments(NotebookArgsSchema, location="query")
@bp.response(200, content_type="application/x-ipynb+json",
             description="The notebook as a download.")
def notebook(args: dict[str, Any], lesson_id: int) -> Response:
    """The student version of the notebook; `?version=source` for the course's authors.

    A signed-in student's copy names, in its parameters cell, the data files they
    were assigned (exercises whose datasets offer choices).
    """
    viewer = current_user()
    lesson = get_lesson(db.session, lesson_id, viewer)
    notebook = lesson_notebook(lesson, viewer, version=args["version"])
    if args["version"] == "student":
        notebook = with_viewers_files(notebook, lesson.exercise,
                                      viewer.id if viewer is not None else None)
    content = nbformat.writes(notebook)
    suffix = "" if args["version"] == "student" else "-source"
    return Response(
        content, mimetype="application/x-ipynb+json",
        headers={"Content-Disposition": f'attachment; filename="{lesson.slug}{suffix}.ipynb"'},
    )

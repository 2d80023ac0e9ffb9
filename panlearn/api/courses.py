"""Courses: the catalogue, one course, and the authors' changes to it."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from flask_smorest import Blueprint

from panlearn.accounts.permissions import require_author
from panlearn.api.identity import current_user
from panlearn.api.present import course_detail, course_summary
from panlearn.authoring.checks import Grading
from panlearn.authoring.reference_grading import subprocess_checker
from panlearn.authoring.service import (
    CourseHook,
    archive_course,
    delete_course,
    import_courses,
    publish_course,
    update_course,
    validate_courses,
)
from panlearn.authoring.sources import SourceLimits, read_archive
from panlearn.catalogue import get_course, get_course_version, list_courses
from panlearn.datasets.registry import Registry
from panlearn.extensions import db
from panlearn.schemas.courses import (
    CourseDetailSchema,
    CoursePageSchema,
    CoursePatchSchema,
    CourseQueryArgsSchema,
    CourseVersionArgsSchema,
)
from panlearn.schemas.imports import (
    ImportFilesSchema,
    ImportFormSchema,
    ImportResponseSchema,
    ValidationReportSchema,
)
from panlearn.wiring import services

bp = Blueprint("courses", __name__, url_prefix="/api/courses", description="Courses")


def _hooks() -> tuple[CourseHook, ...]:
    return services().course_hooks


@bp.route("")
@bp.arguments(CourseQueryArgsSchema, location="query")
@bp.response(200, CoursePageSchema)
def list_all(args: dict[str, Any]) -> dict[str, Any]:
    """Courses the caller may see, newest visible version each, filtered and paged."""
    page = list_courses(db.session, current_user(), **args)
    return {"items": [course_summary(v) for v in page.items], "total": page.total,
            "page": page.page, "per_page": page.per_page, "pages": page.pages}


@bp.route("/<slug>")
@bp.arguments(CourseVersionArgsSchema, location="query")
@bp.response(200, CourseDetailSchema)
def get_one(args: dict[str, Any], slug: str) -> dict[str, Any]:
    """A course with its modules and lessons (`?version=N` for an older version)."""
    viewer = current_user()
    return course_detail(get_course_version(db.session, slug, viewer, args.get("version")), viewer)


@bp.route("/<slug>", methods=["PATCH"])
@bp.arguments(CoursePatchSchema)
@bp.response(200, CourseDetailSchema)
@bp.doc(security=[{"bearer": []}])
def patch(changes: dict[str, Any], slug: str) -> dict[str, Any]:
    """Change the metadata of the course's draft version (authors of its organisation)."""
    viewer = current_user()
    version = update_course(db.session, get_course(db.session, slug), viewer, changes,
                            after_commit=_hooks())
    return course_detail(version, viewer)


@bp.route("/<slug>", methods=["DELETE"])
@bp.response(204)
@bp.doc(security=[{"bearer": []}])
def delete(slug: str) -> None:
    """Delete a course and all its versions (authors of its organisation)."""
    delete_course(db.session, get_course(db.session, slug), current_user(), after_commit=_hooks())


@bp.route("/<slug>/publish", methods=["POST"])
@bp.response(200, CourseDetailSchema)
@bp.doc(security=[{"bearer": []}])
def publish(slug: str) -> dict[str, Any]:
    """Publish the course's newest version, which must be a draft."""
    viewer = current_user()
    version = publish_course(db.session, get_course(db.session, slug), viewer,
                             after_commit=_hooks())
    return course_detail(version, viewer)


@bp.route("/<slug>/archive", methods=["POST"])
@bp.response(200, CourseDetailSchema)
@bp.doc(security=[{"bearer": []}])
def archive(slug: str) -> dict[str, Any]:
    """Withdraw a course from the catalogue; enrolled learners keep their version."""
    viewer = current_user()
    version = archive_course(db.session, get_course(db.session, slug), viewer,
                             after_commit=_hooks())
    return course_detail(version, viewer)


@bp.route("/import", methods=["POST"])
@bp.arguments(ImportFormSchema, location="form")
@bp.arguments(ImportFilesSchema, location="files")
@bp.response(201, ImportResponseSchema)
@bp.doc(security=[{"bearer": []}])
def import_archive(form: dict[str, Any], files: dict[str, Any]) -> dict[str, Any]:
    """Import a course uploaded as a zip archive (authors, into their organisation).

    All of it or nothing: any problem (the same as `POST /api/courses/validate`
    reports) refuses the whole archive with a 400 listing every problem.
    """
    viewer = require_author(current_user())
    with _uploaded_archive(files["archive"]) as (sources, problems, validator):
        results = import_courses(db.session, sources, publish=form["publish"],
                                 actor=viewer, after_commit=_hooks(),
                                 validate_exercise=validator, problems=problems)
    return {"courses": [vars(result) for result in results]}


@bp.route("/validate", methods=["POST"])
@bp.arguments(ImportFilesSchema, location="files")
@bp.response(200, ValidationReportSchema)
@bp.doc(security=[{"bearer": []}])
def validate_archive(files: dict[str, Any]) -> dict[str, Any]:
    """Check a course zip as an import would, importing nothing: every problem at once.

    Answers 200 with `valid` false and the problems (file, cell or line,
    field, message) when the import would be refused; each exercise's
    reference solution is graded (full marks) and its blank student version
    too (0), unless `PANLEARN_GRADING_VALIDATE` is off.
    """
    viewer = require_author(current_user())
    with _uploaded_archive(files["archive"]) as (sources, problems, validator):
        report = validate_courses(db.session, sources, problems=problems, actor=viewer,
                                  grading=Grading(validator, regrade=True))
    body = report.as_dict()
    return {"valid": report.result == "valid", "courses": [s.slug for s in sources],
            "problems": body["problems"], "exercises": body["exercises"]}


def _registry() -> Registry:
    return services().datasets.registry


@contextmanager
def _uploaded_archive(upload: Any) -> Iterator[tuple[list[Any], list[Any], Any]]:
    """An uploaded course zip, read into a temporary folder for the length of the block.

    Yields its sources, its problems, and the reference-solution grader (None
    when `PANLEARN_GRADING_VALIDATE` is off).
    """
    settings = services().settings
    with tempfile.TemporaryDirectory(prefix="panlearn-upload-") as tmp:
        sources, problems = read_archive(upload.stream, upload.filename or "", Path(tmp),
                                         limits=SourceLimits.from_settings(settings),
                                         registry=_registry())
        validation = (subprocess_checker(settings) if settings["GRADING_VALIDATE"]
                      else nullcontext(None))
        with validation as validator:
            yield sources, problems, validator

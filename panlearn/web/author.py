"""The author's workspace: the organisation's courses, their versions, publishing.

Pages for the authors and admins of an organisation, over the same services
as the API (`authoring.workspace`, `authoring.service`). Anonymous visitors
are sent to sign in; students get 403; another organisation's course is not
acknowledged (404). Changes are plain forms (CSRF-protected) behind a
confirmation page that says what learners keep.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import (
    Blueprint,
    Response,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

from panlearn.accounts.permissions import require_author
from panlearn.api.identity import current_user
from panlearn.authoring.jobs import recent_import_jobs
from panlearn.authoring.service import CourseHook, archive_course, publish_course
from panlearn.authoring.workspace import course_row, organisation_courses, publish_plan
from panlearn.errors import ConflictError
from panlearn.extensions import db
from panlearn.models import User
from panlearn.web.forms import ConfirmForm, ImportForm
from panlearn.wiring import services

bp = Blueprint("author", __name__, url_prefix="/author")


def author_page(view: Callable[..., Any]) -> Callable[..., Any]:
    """Sign-in first for anonymous visitors; 403 for anyone but an organisation's author."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        viewer = current_user()
        if viewer is None:
            return redirect(url_for("signin.login", next=request.full_path.rstrip("?")),
                            code=303)
        return view(require_author(viewer), *args, **kwargs)

    return wrapper


def _hooks() -> tuple[CourseHook, ...]:
    return services().course_hooks


@bp.route("")
@author_page
def home(viewer: User) -> str:
    """The organisation's courses with their versions, the import form, recent imports."""
    return render_template("author/home.html", rows=organisation_courses(db.session, viewer),
                           jobs=recent_import_jobs(db.session, viewer), form=ImportForm(),
                           organisation=viewer.organisation)


@bp.route("/courses/<slug>")
@author_page
def course(viewer: User, slug: str) -> str:
    """One course: every version, who published it and when, its source, its learners."""
    row = course_row(db.session, slug, viewer)
    return render_template("author/course.html", row=row, plan=publish_plan(row),
                           form=ConfirmForm())


@bp.route("/courses/<slug>/publish", methods=["GET", "POST"])
@author_page
def publish(viewer: User, slug: str) -> Response | str:
    """GET: what publishing the draft changes and what learners keep; POST: publish it."""
    row = course_row(db.session, slug, viewer)
    plan = publish_plan(row)
    form = ConfirmForm()
    if request.method == "POST":
        form.validate()  # CSRFProtect has checked the token already
        if plan is None:
            raise ConflictError(f"{slug!r} has no draft to publish; import a changed course.")
        expected = request.form.get("version", type=int)
        if expected != plan.draft.number:
            raise ConflictError("The draft changed since this page was shown; look again "
                                "before publishing.")
        version = publish_course(db.session, row.course, viewer, after_commit=_hooks())
        flash(f"Version {version.number} is published: new learners get it now.")
        return redirect(url_for("author.course", slug=slug), code=303)
    return render_template("author/publish.html", row=row, plan=plan, form=form)


@bp.route("/courses/<slug>/unpublish", methods=["GET", "POST"])
@author_page
def unpublish(viewer: User, slug: str) -> Response | str:
    """GET: what withdrawing the course means for learners; POST: withdraw it."""
    row = course_row(db.session, slug, viewer)
    form = ConfirmForm()
    if request.method == "POST":
        form.validate()
        version = archive_course(db.session, row.course, viewer, after_commit=_hooks())
        flash(f"{version.title} is withdrawn from the catalogue; its learners keep version "
              f"{version.number}.")
        return redirect(url_for("author.course", slug=slug), code=303)
    staying = next((r.learners for r in row.versions if r.version is row.published), 0)
    return render_template("author/unpublish.html", row=row, staying=staying, form=form)

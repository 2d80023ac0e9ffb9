"""Progress in the pages: enrol from the course page, mark a reading read.

Plain forms (CSRF-protected) over the same services as the API, each
redirecting back to the page it came from.
"""

from __future__ import annotations

from flask import Blueprint, Response, redirect, request, url_for
from flask_wtf import FlaskForm

from panlearn.api.identity import current_user
from panlearn.catalogue import get_course
from panlearn.extensions import db
from panlearn.progress.completion import complete_reading
from panlearn.progress.enrolment import enrol
from panlearn.wiring import services

bp = Blueprint("progress_pages", __name__)


def _signed_in_or_login(back: str) -> Response | None:
    if current_user() is None:
        return redirect(url_for("signin.login", next=back), code=303)
    return None


@bp.route("/courses/<slug>/enrol", methods=["POST"])
def enrol_page(slug: str) -> Response:
    """Enrol in the course (or move to its newest version with `move=1`)."""
    back = url_for("pages.course", slug=slug)
    if (login := _signed_in_or_login(back)) is not None:
        return login
    FlaskForm().validate()  # CSRFProtect has checked the token; nothing else to read
    enrol(db.session, get_course(db.session, slug), current_user(),
          move=request.form.get("move") == "1",
          issuer=services().issuer)
    return redirect(back, code=303)


@bp.route("/lessons/<int:lesson_id>/read", methods=["POST"])
def mark_read(lesson_id: int) -> Response:
    """Mark a reading lesson read, then go on to the next lesson's page."""
    back = url_for("pages.lesson", lesson_id=lesson_id)
    if (login := _signed_in_or_login(back)) is not None:
        return login
    complete_reading(db.session, lesson_id, current_user(),
                     issuer=services().issuer)
    return redirect(request.form.get("next") or back, code=303)

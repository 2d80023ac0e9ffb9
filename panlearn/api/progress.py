"""Progress: enrol in a course, mark readings read, see your progress; course analytics."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from panlearn.api.identity import current_user
from panlearn.catalogue import get_course
from panlearn.credentials.service import IssuerConfig
from panlearn.extensions import db
from panlearn.progress.analytics import course_analytics
from panlearn.progress.completion import complete_reading
from panlearn.progress.enrolment import enrol as enrol_in_course
from panlearn.progress.report import course_progress, learner_progress
from panlearn.schemas.analytics import AnalyticsArgsSchema, CourseAnalyticsSchema
from panlearn.schemas.progress import (
    CourseProgressSchema,
    EnrolSchema,
    LessonCompletionSchema,
    ProgressListSchema,
)
from panlearn.wiring import services

bp = Blueprint("progress", __name__, url_prefix="/api", description="Learner progress")


def _issuer() -> IssuerConfig:
    return services().issuer


@bp.route("/courses/<slug>/enrol", methods=["POST"])
@bp.arguments(EnrolSchema, required=False)
@bp.response(200, CourseProgressSchema)
@bp.doc(security=[{"bearer": []}])
def enrol(args: dict[str, Any], slug: str) -> dict[str, Any]:
    """Enrol in the newest published version; again with `move: true` to move to a newer one.

    Without `move`, enrolling again changes nothing: you keep your version.
    """
    enrolment = enrol_in_course(db.session, get_course(db.session, slug), current_user(),
                                move=args.get("move", False), issuer=_issuer())
    return course_progress(db.session, enrolment)


@bp.route("/lessons/<int:lesson_id>/complete", methods=["POST"])
@bp.response(200, LessonCompletionSchema)
@bp.doc(security=[{"bearer": []}])
def complete(lesson_id: int) -> dict[str, Any]:
    """Mark a reading lesson read (idempotent); exercises complete when passed."""
    completion, enrolment = complete_reading(db.session, lesson_id, current_user(),
                                             issuer=_issuer())
    return {"lesson_id": lesson_id, "how": completion.kind.value,
            "completed_at": completion.completed_at,
            "course": course_progress(db.session, enrolment) if enrolment else None}


@bp.route("/me/progress")
@bp.response(200, ProgressListSchema)
@bp.doc(security=[{"bearer": []}])
def my_progress() -> dict[str, Any]:
    """Your progress in each course you are enrolled in, on your enrolled version."""
    return {"items": learner_progress(db.session, current_user())}


@bp.route("/courses/<slug>/analytics")
@bp.arguments(AnalyticsArgsSchema, location="query")
@bp.response(200, CourseAnalyticsSchema)
@bp.doc(security=[{"bearer": []}])
def analytics(args: dict[str, Any], slug: str) -> dict[str, Any]:
    """Learners, completion, per-exercise and per-check pass rates, commonest failures.

    For the authors and admins of the course's organisation.
    """
    return course_analytics(db.session, get_course(db.session, slug), current_user(),
                            version_number=args.get("version"))

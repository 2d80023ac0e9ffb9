"""Grade passback: after a submission is graded, post the score to the LMS gradebook (AGS).

`post_score` runs after the grading result is committed, in the grading
worker: it subscribes to grading's "graded" hooks (`panlearn.wiring`). It
posts the learner's best graded score for the exercise (the mark that counts
for progress too, so a worse retry never lowers the gradebook) to every line
item remembered from their launches, with a client-credentials
token obtained by a JWT assertion signed with the tool's key. It never raises:
the LMS being down must not fail or retry a grading, so failures are logged
and kept on the line item (`last_error`) for operators.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import requests
from pylti1p3.assignments_grades import AssignmentsGradesService
from pylti1p3.grade import Grade
from pylti1p3.service_connector import ServiceConnector
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from panlearn.lti.config import TimeoutSession, ToolRegistration
from panlearn.lti.keys import ToolKey
from panlearn.lti.users import sub_of
from panlearn.models import LtiLineItem, Submission, SubmissionState, utcnow

log = logging.getLogger(__name__)


def post_score(session: Session, submission_id: int, *,
               key: Callable[[], ToolKey],
               http: Callable[[], requests.Session] = TimeoutSession) -> int:
    """Post the learner's best score to each LMS line item of the exercise; how many took it.

    Called after the grading commit. Does nothing (and costs one indexed query)
    for submissions of exercises never launched from an LMS; ``key`` gives the
    tool's signing key, read only when there is something to post. Never raises.
    """
    try:
        submission = session.get(Submission, submission_id)
        if submission is None or submission.state != SubmissionState.GRADED:
            return 0
        links = list(session.scalars(select(LtiLineItem).where(
            LtiLineItem.user_id == submission.user_id,
            LtiLineItem.exercise_id == submission.exercise_id)))
        if not links:
            return 0
        best = session.scalar(select(func.max(Submission.score)).where(
            Submission.user_id == submission.user_id,
            Submission.exercise_id == submission.exercise_id,
            Submission.state == SubmissionState.GRADED))
        maximum = submission.max_score or submission.exercise.points
        when = submission.finished_at or utcnow()
        signing_key = key()
        posted = sum(_post_one(session, link, best or 0.0, maximum, when, signing_key, http)
                     for link in links)
        session.commit()
        return posted
    except Exception:  # grading has succeeded whatever happens here
        log.exception("submission %s: grade passback failed", submission_id)
        session.rollback()
        return 0


def _post_one(session: Session, link: LtiLineItem, score: float, maximum: float, when: Any,
              key: ToolKey, http: Callable[[], requests.Session]) -> int:
    sub = sub_of(session, link.platform.issuer, link.user_id)
    if sub is None:
        link.last_error = "the learner has no LTI identity on this platform"
        return 0
    connector = ServiceConnector(ToolRegistration(link.platform, key), requests_session=http())
    service = AssignmentsGradesService(connector, {"scope": list(link.scopes),  # type: ignore
                                                   "lineitem": link.lineitem_url})
    grade = (Grade().set_score_given(score).set_score_maximum(maximum)
             .set_activity_progress("Completed").set_grading_progress("FullyGraded")
             .set_timestamp(when.isoformat(timespec="milliseconds")).set_user_id(sub))
    try:
        service.put_grade(grade)
    except Exception as error:  # one platform's failure must not stop the others
        response = getattr(error, "response", None)
        message = (f"HTTP {response.status_code}: {response.text[:200]}"
                   if isinstance(response, requests.Response)
                   else f"{type(error).__name__}: {error}")
        log.warning("AGS score post to %s failed: %s", link.lineitem_url, message)
        link.last_error = message[:2000]
        return 0
    link.posted_score, link.posted_at, link.last_error = score, utcnow(), None
    return 1

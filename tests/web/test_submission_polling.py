"""A waiting submission tells its poller when to look again (API header and page reload)."""

from __future__ import annotations

import re
from datetime import timedelta

import nbformat
from sqlalchemy import select

from panlearn.extensions import db
from panlearn.models import Submission, SubmissionState, utcnow
from panlearn.notebooks.student import make_student_version
from tests.builders import exercise_notebook, make_user, token_for
from tests.web.conftest import sign_in
from tests.web.test_submit_page import _post


def _refresh_seconds(html: str) -> int | None:
    found = re.search(r'http-equiv="refresh" content="(\d+)"', html)
    return int(found.group(1)) if found else None


def test_retry_after_follows_the_queue_and_the_grading_rate(app, client, demo):
    make_user(app, "student")
    sign_in(client, "student")
    notebook = nbformat.writes(make_student_version(exercise_notebook())).encode()
    locations = [_post(client, demo[1], notebook).headers["Location"] for _ in range(3)]
    api = token_for(client, "student")
    with app.app_context():
        ids = list(db.session.scalars(select(Submission.id).order_by(Submission.id)))

    # No grading measured yet: look again in a second.
    response = client.get(f"/api/submissions/{ids[2]}", headers=api)
    assert response.json["state"] == "queued" and response.headers["Retry-After"] == "1"

    # Twenty submissions finished over the last 50 s: 0.4 per second. The third queued
    # one has two ahead of it, so about 7.5 s to wait, and the hint is half of that.
    with app.app_context():
        first = db.session.get(Submission, ids[0])
        now = utcnow()
        for i in range(20):
            db.session.add(Submission(
                exercise_id=first.exercise_id, user_id=first.user_id,
                course_version_id=first.course_version_id, notebook_hash=first.notebook_hash,
                state=SubmissionState.GRADED, finished_at=now - timedelta(seconds=50 - 2 * i)))
        db.session.commit()
    response = client.get(f"/api/submissions/{ids[2]}", headers=api)
    assert response.headers["Retry-After"] == "4"
    # The page without JavaScript reloads after at most 2 s whatever the queue says, so a
    # result never waits long for a student who is looking at it.
    assert _refresh_seconds(client.get(locations[2]).get_data(as_text=True)) == 2
    # The first in the queue: about 2.5 s to wait.
    assert client.get(f"/api/submissions/{ids[0]}", headers=api).headers["Retry-After"] == "2"

    with app.app_context():
        db.session.get(Submission, ids[2]).state = SubmissionState.RUNNING
        db.session.get(Submission, ids[1]).state = SubmissionState.GRADED
        db.session.commit()
    assert client.get(f"/api/submissions/{ids[2]}", headers=api).headers["Retry-After"] == "1"
    assert _refresh_seconds(client.get(locations[2]).get_data(as_text=True)) == 1
    graded = client.get(f"/api/submissions/{ids[1]}", headers=api)
    assert graded.status_code == 200 and "Retry-After" not in graded.headers
    assert _refresh_seconds(client.get(locations[1]).get_data(as_text=True)) is None

"""Attempts that end: a submission is claimed a bounded number of times, then it is settled.

Issue 13, item 6: `get_ipython().execution_count = -100` broke the recording of the result
outside the worker's error handling; the submission stayed `running`, its lease expired, and
it was claimed again, for ever (9 attempts in 4.5 minutes, across restarts).
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from panlearn.extensions import db
from panlearn.grading.jobs import claim, claim_next
from panlearn.models import GradingRun, Submission, SubmissionState, utcnow
from tests.abuse.conftest import notebook, rows, sleeper, submit, wait_done
from tests.integration.faults.conftest import processes  # noqa: F401 (fixture)

LEASE = timedelta(seconds=30)


def _expire(app, submission_id: int, attempts: int) -> None:
    """Make a submission look like its worker died while grading it, `attempts` times."""
    with app.app_context():
        db.session.execute(update(Submission).where(Submission.id == submission_id).values(
            state=SubmissionState.RUNNING, attempts=attempts, claim_token="dead" * 8,
            started_at=utcnow() - timedelta(minutes=2),
            lease_expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        db.session.remove()


def test_a_lost_claim_counts_and_the_last_one_ends_the_submission_as_failed(
        course_app, exercise_ids, tokens):
    client = course_app.test_client()
    spent, fresh = (submit(client, exercise_ids[0], tokens[name], notebook()).get_json()["id"]
                    for name in ("alice", "bob"))
    _expire(course_app, spent, attempts=3)  # three workers died on it
    with course_app.app_context():
        assert claim(db.session, spent, LEASE, attempts=3) is None
        claimed = claim_next(db.session, LEASE, attempts=3)  # settles the spent one, takes the next
        db.session.remove()
    assert claimed is not None and claimed[0] == fresh
    found = rows(course_app)
    assert found[spent].state == SubmissionState.FAILED
    assert found[spent].attempts == 3 and found[spent].lease_expires_at is None
    assert "3 attempts" in found[spent].error
    assert found[fresh].attempts == 1

    # One attempt short of the limit: it is claimed again, and that claim counts.
    _expire(course_app, fresh, attempts=2)
    with course_app.app_context():
        assert claim(db.session, fresh, LEASE, attempts=3) is not None
        db.session.remove()
    assert rows(course_app)[fresh].attempts == 3


@pytest.mark.slow
def test_a_worker_killed_on_every_attempt_ends_failed_with_a_reason(
        grading_app, exercise_ids, tokens, processes):  # noqa: F811
    grading_app.config["PANLEARN"]["GRADING_ATTEMPTS"] = 2
    client = grading_app.test_client()
    response = submit(client, exercise_ids[0], tokens["alice"], sleeper(8))
    sid = response.get_json()["id"]
    for attempt in (1, 2):
        worker = processes.worker(grading_app, PANLEARN_GRADING_ATTEMPTS="2")
        deadline = time.monotonic() + 90
        while not (rows(grading_app)[sid].state == SubmissionState.RUNNING
                   and rows(grading_app)[sid].attempts == attempt):
            assert time.monotonic() < deadline, processes.logs()
            time.sleep(0.1)
        processes.kill_tree(worker)  # the machine dies mid-grading
    processes.worker(grading_app, PANLEARN_GRADING_ATTEMPTS="2")
    body = wait_done(client, response.headers["Location"], tokens["alice"], timeout=90)
    assert body["state"] == "failed", body
    assert body["attempts"] == 2 and "2 attempts" in body["error"], body
    with grading_app.app_context():
        assert list(db.session.scalars(select(GradingRun.state))) == []
        db.session.remove()


@pytest.mark.slow
def test_a_poison_pill_is_graded_once_and_its_feedback_shown(
        grading_app, exercise_ids, tokens, local_workers):
    client = grading_app.test_client()
    local_workers(1)
    poisoned = notebook(after="get_ipython().execution_count = -100")
    response = submit(client, exercise_ids[0], tokens["alice"], poisoned)
    body = wait_done(client, response.headers["Location"], tokens["alice"], timeout=90)
    assert (body["state"], body["score"], body["attempts"]) == ("graded", 3, 1), body
    feedback = client.get(body["feedback_url"], headers=tokens["alice"])
    assert feedback.status_code == 200
    assert "get_ipython" in feedback.get_data(as_text=True)  # the student's cell, as it ran

"""Submitting from the exercise page, without JavaScript, and the result page."""

from __future__ import annotations

import io

import nbformat
from sqlalchemy import select

from panlearn.extensions import db
from panlearn.models import CheckResult, GradingRun, Submission, SubmissionState
from panlearn.notebooks.student import make_student_version
from tests.builders import exercise_notebook, make_user
from tests.web.conftest import csrf_token, sign_in


def _post(client, lesson_id, data: bytes, token=None):
    page = client.get(f"/lessons/{lesson_id}").get_data(as_text=True)
    form = {"csrf_token": token or csrf_token(page),
            "notebook": (io.BytesIO(data), "answer.ipynb")}
    return client.post(f"/lessons/{lesson_id}/submissions", data=form,
                       content_type="multipart/form-data")


def test_a_signed_in_student_submits_and_follows_the_result(app, client, demo):
    make_user(app, "student")
    sign_in(client, "student")
    page = client.get(f"/lessons/{demo[1]}").get_data(as_text=True)
    assert 'type="file"' in page and "Submit for grading" in page
    notebook = nbformat.writes(make_student_version(exercise_notebook())).encode()
    response = _post(client, demo[1], notebook)
    assert response.status_code == 303
    waiting = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Waiting for a grader" in waiting and 'http-equiv="refresh"' in waiting
    with app.app_context():
        submission = db.session.scalar(select(Submission))
        submission.state, submission.score, submission.max_score = (
            SubmissionState.GRADED, 0, 2)
        submission.runs = [GradingRun(
            state=SubmissionState.GRADED, grader_version="t", check_suite_hash="1" * 64,
            score=0, max_score=2, checks=[CheckResult(
                position=0, grade_id="check-answer", name="check-answer", status="failed",
                score=0, max_score=2, output="NotImplementedError: write your answer")])]
        db.session.commit()
    graded = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "0 / 2" in graded and "write your answer" in graded
    assert 'http-equiv="refresh"' not in graded


def test_bad_uploads_are_explained_on_the_page_and_nothing_is_stored(app, client, demo):
    make_user(app, "student")
    sign_in(client, "student")
    response = _post(client, demo[1], b"not a notebook")
    assert response.status_code == 400
    assert 'role="alert"' in response.get_data(as_text=True)
    assert _post(client, demo[1], b"{}", token="forged").status_code == 400
    with app.app_context():
        assert db.session.scalar(select(Submission)) is None


def test_others_cannot_see_a_submission_page(app, client, demo):
    make_user(app, "student")
    make_user(app, "other")
    sign_in(client, "student")
    notebook = nbformat.writes(make_student_version(exercise_notebook())).encode()
    location = _post(client, demo[1], notebook).headers["Location"]
    client.post("/logout", data={"csrf_token": csrf_token(
        client.get("/logout").get_data(as_text=True))})
    assert client.get(location).status_code == 303  # to sign in
    sign_in(client, "other")
    assert client.get(location).status_code == 404


def test_enrol_mark_read_and_see_progress_on_the_course_page(app, client, demo):
    make_user(app, "student")
    sign_in(client, "student")
    course = client.get("/courses/demo").get_data(as_text=True)
    assert "Enrol to record your progress" in course
    response = client.post("/courses/demo/enrol", data={"csrf_token": csrf_token(course)})
    assert response.status_code == 303
    assert "0 of 3 lessons done" in client.get("/courses/demo").get_data(as_text=True)
    page = client.get(f"/lessons/{demo[0]}").get_data(as_text=True)
    response = client.post(f"/lessons/{demo[0]}/read", data={
        "csrf_token": csrf_token(page), "next": f"/lessons/{demo[1]}"})
    assert response.status_code == 303 and response.headers["Location"].endswith(
        f"/lessons/{demo[1]}")
    course = client.get("/courses/demo").get_data(as_text=True)
    assert "1 of 3 lessons done" in course and "not submitted yet" in course
    assert client.post("/courses/demo/enrol", data={}).status_code == 400  # no CSRF token

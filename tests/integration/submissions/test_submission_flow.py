"""Submissions end to end: the API, the database, real worker processes and sandboxes."""

from __future__ import annotations

import nbformat
import pytest
from sqlalchemy import select

from panlearn import create_app
from panlearn.extensions import db
from panlearn.grading.runtime import LocalDispatcher
from panlearn.models import GradingRun, Submission
from panlearn.wiring import replace_services, services_of
from tests.builders import token_for
from tests.integration.submissions.conftest import (
    answered,
    dump,
    source_notebook,
    start_worker,
    stop,
    student_notebook,
    submit,
    wait_for,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def local_pool(grading_app):
    grading_app.config["PANLEARN"]["GRADING_WORKERS"] = 1
    dispatcher = LocalDispatcher(services_of(grading_app).settings, app_factory=create_app)
    replace_services(grading_app, dispatcher=dispatcher)
    yield dispatcher
    dispatcher.stop()


def test_in_app_pool_grades_right_wrong_and_unchanged_notebooks(
        grading_app, exercise_id, student, local_pool):
    client = grading_app.test_client()
    cases = {
        "right": answered("float(two_theta[np.argmax(counts)])",
                          "wavelength / (2 * np.sin(np.radians(peak_two_theta / 2)))"),
        # Forgets to halve 2θ: the d-spacing check alone loses its 2 points.
        "wrong": answered("float(two_theta[np.argmax(counts)])",
                          "wavelength / (2 * np.sin(np.radians(peak_two_theta)))"),
        "unchanged": student_notebook(),
    }
    urls = {}
    for name, notebook in cases.items():
        response = submit(client, exercise_id, student, notebook)
        assert response.status_code == 202, response.get_json()
        assert response.get_json()["state"] == "queued"
        urls[name] = response.headers["Location"]
    results = {name: wait_for(client, url, student) for name, url in urls.items()}
    right, wrong, unchanged = results["right"], results["wrong"], results["unchanged"]
    assert (right["state"], right["score"], right["max_score"]) == ("graded", 3, 3), dump(right)
    assert all(check["passed"] and check["ran"] for check in right["checks"])
    assert wrong["score"] == 1, dump(wrong)
    [failed] = [check for check in wrong["checks"] if not check["passed"]]
    assert failed["grade_id"] == "d-spacing" and "half of the 2θ" in failed["message"]
    assert unchanged["score"] == 0
    assert all("NotImplementedError" in check["message"] or "not implemented" in
               check["message"].lower() for check in unchanged["checks"]), dump(unchanged)
    # Hidden checks' messages reach the student; their code never does.
    for body in results.values():
        assert "BEGIN HIDDEN TESTS" not in dump(body)
        assert "expected = wavelength" not in dump(body)
    feedback = client.get(right["feedback_url"], headers=student)
    assert feedback.status_code == 200 and "BEGIN HIDDEN" not in feedback.get_data(as_text=True)
    assert "expected = float(two_theta" not in feedback.get_data(as_text=True)


def test_submissions_are_private_and_authors_see_pass_rates(
        grading_app, exercise_id, student, local_pool):
    client = grading_app.test_client()
    url = submit(client, exercise_id, student, source_notebook()).headers["Location"]
    wait_for(client, url, student)
    from tests.builders import make_user

    make_user(grading_app, "other")
    other = token_for(client, "other")
    assert client.get(url, headers=other).status_code == 404
    assert client.get(url).status_code == 401
    listing = client.get(f"/api/exercises/{exercise_id}/submissions", headers=other).get_json()
    assert listing["items"] == [] and listing["pass_rates"] is None
    teacher = token_for(client, "teacher")
    staff = client.get(f"/api/exercises/{exercise_id}/submissions", headers=teacher).get_json()
    assert len(staff["items"]) == 1
    assert staff["pass_rates"] == {"peak-angle": 1.0, "d-spacing": 1.0}


def test_bad_submissions_get_a_clear_4xx_and_nothing_runs(grading_app, exercise_id, student):
    client = grading_app.test_client()
    post = f"/api/exercises/{exercise_id}/submissions"
    not_json = client.post(post, data="hello", headers=student, content_type="application/json")
    assert not_json.status_code == 400
    other = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    response = submit(client, exercise_id, student, other)
    assert response.status_code == 400 and "does not belong" in response.get_json()["detail"]
    huge = student_notebook()
    huge.cells[2].outputs = [nbformat.v4.new_output("stream", text="x" * 12_000_000)]
    response = submit(client, exercise_id, student, huge)
    assert response.status_code in (400, 413)
    assert client.post(post, headers=student).status_code == 400
    assert submit(client, exercise_id, {}, student_notebook()).status_code == 401
    with grading_app.app_context():
        assert db.session.scalar(select(Submission)) is None


def test_submissions_are_rate_limited_per_student_and_exercise(grading_app, exercise_id,
                                                                student):
    grading_app.config["PANLEARN"]["SUBMISSIONS_PER_HOUR"] = 2
    client = grading_app.test_client()
    for _ in range(2):
        assert submit(client, exercise_id, student, student_notebook()).status_code == 202
    response = submit(client, exercise_id, student, student_notebook())
    assert response.status_code == 429
    assert response.content_type == "application/problem+json"


def test_worker_killed_mid_grading_is_resumed_and_graded_exactly_once(
        grading_app, exercise_id, student):
    client = grading_app.test_client()
    # A notebook that takes a few seconds, so the worker is surely killed while grading.
    slow = answered("float(two_theta[np.argmax(counts)])\nimport time; time.sleep(4)",
                    "wavelength / (2 * np.sin(np.radians(peak_two_theta / 2)))")
    url = submit(client, exercise_id, student, slow).headers["Location"]
    worker = start_worker(grading_app)
    try:
        wait_for(client, url, student, states=("running",), timeout=60)
        worker.kill()  # kill -9, mid-grading
        worker.wait()
        assert client.get(url, headers=student).get_json()["state"] == "running"
    finally:
        stop(worker)
    worker = start_worker(grading_app)
    try:
        body = wait_for(client, url, student, timeout=90)
    finally:
        log = stop(worker)
    assert body["state"] == "graded" and body["score"] == 3, dump(body) + log
    assert body["attempts"] == 2
    with grading_app.app_context():
        runs = list(db.session.scalars(select(GradingRun)))
        assert [run.state.value for run in runs] == ["graded"]
        assert runs[0].dataset_checksums == {
            "dmc01.h5": "b149942554fd70a7f488e8e730662d2e85f7523b6abf6220fcb9a42d2836630a"}

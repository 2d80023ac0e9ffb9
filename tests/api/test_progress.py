"""Progress through the API: enrolment and moving, completion, the learner's view, analytics."""

from __future__ import annotations

import time
from typing import Any

import nbformat
import pytest
from sqlalchemy import func, select

from panlearn import create_app
from panlearn.authoring.folder import load_course_folders
from panlearn.authoring.service import import_courses
from panlearn.extensions import db
from panlearn.models import (
    CheckResult,
    Credential,
    GradingRun,
    NotebookBlob,
    Submission,
    SubmissionState,
    User,
)
from panlearn.notebooks.student import make_student_version
from panlearn.progress.hooks import on_submission_graded
from panlearn.wiring import replace_services, services, services_of
from tests.api.conftest import bump_title
from tests.builders import (
    exercise_notebook,
    make_org,
    make_user,
    reading_notebook,
    token_for,
    write_course,
)
from tests.conftest import REPO_ROOT

# --- helpers (also used by test_credentials.py) ----------------------------------------------


def lessons_of(client, slug: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """The course's lessons by slug, from the course API."""
    body = client.get(f"/api/courses/{slug}", headers=headers or {}).get_json()
    return {lesson["slug"]: lesson for module in body["modules"] for lesson in module["lessons"]}


def enrol(client, headers, slug: str = "published", **body: Any):
    return client.post(f"/api/courses/{slug}/enrol", json=body, headers=headers)


def graded_submission(app, username: str, exercise_id: int, score: float, *,
                      max_score: float = 2.0,
                      checks: list[tuple[str, str, str]] | None = None) -> int:
    """A graded submission written as the worker writes it, then the worker's progress hook.

    `checks`: (grade_id, status, output) of the run's check results.
    """
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        if db.session.get(NotebookBlob, "0" * 64) is None:
            db.session.add(NotebookBlob(sha256="0" * 64, content=b"{}", size=2))
        submission = Submission(exercise_id=exercise_id, user_id=user.id,
                                notebook_hash="0" * 64, state=SubmissionState.GRADED,
                                score=score, max_score=max_score, attempts=1)
        checks = checks if checks is not None else [
            ("check-answer", "passed" if score >= max_score else "failed",
             "" if score >= max_score else "AssertionError: answer is wrong")]
        submission.runs = [GradingRun(
            state=SubmissionState.GRADED, grader_version="test", check_suite_hash="1" * 64,
            dataset_checksums={"peak.nxs": "a" * 64}, score=score, max_score=max_score,
            checks=[CheckResult(position=index, grade_id=grade_id, name=grade_id,
                                status=status, score=max_score if status == "passed" else 0,
                                max_score=max_score, output=output)
                    for index, (grade_id, status, output) in enumerate(checks)])]
        db.session.add(submission)
        db.session.commit()
        # What the grading worker's "graded" hook calls.
        on_submission_graded(db.session, submission.id, issuer=services().issuer)
        return submission.id


def complete_course(app, client, headers, username: str = "student",
                    slug: str = "published") -> dict[str, Any]:
    """Enrol, read every reading, pass every exercise; the final progress."""
    assert enrol(client, headers, slug).status_code == 200
    for lesson in lessons_of(client, slug, headers).values():
        if lesson["exercise_id"]:
            graded_submission(app, username, lesson["exercise_id"], 2)
        else:
            assert client.post(f"/api/lessons/{lesson['id']}/complete",
                               headers=headers).status_code == 200
    [progress] = [item for item in client.get("/api/me/progress", headers=headers)
                  .get_json()["items"] if item["course"] == slug]
    return progress


def publish_new_version(app, tmp_path, title: str = "Published, second edition",
                        notebooks: dict[str, Any] | None = None) -> None:
    """Import a changed `published` course folder as version 2 and publish it."""
    folder = tmp_path / "src" / "published"
    bump_title(folder, title)
    for name, notebook in (notebooks or {}).items():
        nbformat.write(notebook, folder / name)
    with app.app_context():
        import_courses(db.session, load_course_folders(folder), publish=True)


# --- enrolment ---------------------------------------------------------------------------------


def test_enrolling_takes_the_newest_published_version_and_is_idempotent(
        app, client, catalogue, tmp_path):
    student = catalogue["student"]
    first = enrol(client, student)
    assert first.status_code == 200, first.get_json()
    body = first.get_json()
    assert (body["course"], body["version_number"], body["lessons_done"],
            body["lessons_total"]) == ("published", 1, 0, 3)
    assert body["pass_mark"] == 0.6 and body["completed_at"] is None
    again = enrol(client, student).get_json()
    assert again["enrolled_at"] == body["enrolled_at"]

    publish_new_version(app, tmp_path)
    stays = enrol(client, student).get_json()  # a new release does not move anyone
    assert (stays["version_number"], stays["newest_version_number"], stays["can_move"]) == (
        1, 2, True)
    assert stays["version_status"] == "archived" and stays["title"] == "Course published"
    assert client.post("/api/courses/published/enrol", headers=student).get_json()[
        "version_number"] == 1  # no body at all: move defaults to false

    moved = enrol(client, student, move=True).get_json()
    assert (moved["version_number"], moved["can_move"], moved["title"]) == (
        2, False, "Published, second edition")
    assert moved["moved_at"] is not None
    assert enrol(client, student, move=True).get_json()["moved_at"] == moved["moved_at"]
    # A new learner enrols in the newest published version.
    make_user(app, "newcomer")
    assert enrol(client, token_for(client, "newcomer")).get_json()["version_number"] == 2


def test_enrolment_needs_a_signed_in_user_and_a_published_version(client, catalogue):
    assert enrol(client, {}).status_code == 401
    assert enrol(client, catalogue["student"], "drafty").status_code == 404
    assert enrol(client, catalogue["student"], "nope").status_code == 404
    draft_only = enrol(client, catalogue["author"], "drafty")
    assert draft_only.status_code == 409
    assert draft_only.headers["Content-Type"] == "application/problem+json"
    bad = enrol(client, catalogue["student"], move="sideways")
    assert bad.status_code == 422 and "move" in bad.get_json()["errors"]["json"]


def test_moving_keeps_lessons_whose_notebook_did_not_change(app, client, catalogue, tmp_path):
    student = catalogue["student"]
    enrol(client, student)
    v1 = lessons_of(client, "published")
    for slug in ("01-read", "03-more"):
        client.post(f"/api/lessons/{v1[slug]['id']}/complete", headers=student)
    graded_submission(app, "student", v1["02-exercise"]["exercise_id"], 2)
    publish_new_version(app, tmp_path, notebooks={
        "03-more.ipynb": reading_notebook("Reading two", "Rewritten: scattering vectors.")})
    moved = enrol(client, student, move=True).get_json()
    how = {lesson["slug"]: lesson["how"] for lesson in moved["lessons"]}
    assert how == {"01-read": "carried", "02-exercise": "carried", "03-more": None}
    assert moved["lessons_done"] == 2 and moved["completed_at"] is None
    [exercise] = moved["exercises"]
    assert exercise["passed"] is True and exercise["best_score"] is None  # passed in v1


def test_an_enrolled_learner_keeps_a_course_withdrawn_from_the_catalogue(app, client, catalogue):
    student = catalogue["student"]
    enrol(client, student)
    archived = client.post("/api/courses/published/archive", headers=catalogue["author"])
    assert archived.status_code == 200, archived.get_json()
    again = enrol(client, student)
    assert again.status_code == 200 and again.get_json()["version_status"] == "archived"
    lesson = lessons_of(client, "published", catalogue["author"])["01-read"]
    assert client.post(f"/api/lessons/{lesson['id']}/complete",
                       headers=student).get_json()["course"]["lessons_done"] == 1
    make_user(app, "late")
    assert enrol(client, token_for(client, "late")).status_code == 404


# --- completion --------------------------------------------------------------------------------


def test_a_reading_is_completed_by_marking_it_read_once(client, catalogue):
    student = catalogue["student"]
    lessons = lessons_of(client, "published")
    url = f"/api/lessons/{lessons['01-read']['id']}/complete"
    before_enrolling = client.post(url, headers=student)
    assert before_enrolling.status_code == 200
    assert before_enrolling.get_json()["course"] is None  # not enrolled: nothing it counts for
    enrolled = enrol(client, student).get_json()
    assert enrolled["lessons_done"] == 1  # done before enrolling still counts
    again = client.post(url, headers=student).get_json()
    assert again["how"] == "read"
    assert again["completed_at"] == before_enrolling.get_json()["completed_at"]
    assert again["course"]["lessons_done"] == 1
    exercise = client.post(f"/api/lessons/{lessons['02-exercise']['id']}/complete",
                           headers=student)
    assert exercise.status_code == 409 and "pass mark" in exercise.get_json()["detail"]
    assert client.post(url).status_code == 401


def test_lessons_of_drafts_cannot_be_completed_by_students(client, catalogue):
    lessons = lessons_of(client, "drafty", catalogue["author"])
    response = client.post(f"/api/lessons/{lessons['01-read']['id']}/complete",
                           headers=catalogue["student"])
    assert response.status_code == 404


def test_an_exercise_is_completed_when_the_best_graded_score_reaches_the_pass_mark(
        app, client, catalogue):
    student = catalogue["student"]
    enrol(client, student)
    exercise_id = lessons_of(client, "published")["02-exercise"]["exercise_id"]

    def exercise_progress() -> dict[str, Any]:
        [course] = client.get("/api/me/progress", headers=student).get_json()["items"]
        [exercise] = course["exercises"]
        return exercise

    graded_submission(app, "student", exercise_id, 1)  # 50 % < 60 %
    assert exercise_progress()["passed"] is False
    graded_submission(app, "student", exercise_id, 1.2)  # 60 % exactly: passes
    progress = exercise_progress()
    assert (progress["passed"], progress["best_score"], progress["best_fraction"],
            progress["graded_submissions"]) == (True, 1.2, 0.6, 2)
    graded_submission(app, "student", exercise_id, 0)  # a worse try takes nothing back
    assert exercise_progress()["passed"] is True
    assert exercise_progress()["best_score"] == 1.2


def test_a_failed_or_ungraded_submission_completes_nothing(app, client, catalogue):
    student = catalogue["student"]
    enrol(client, student)
    exercise_id = lessons_of(client, "published")["02-exercise"]["exercise_id"]
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "student"))
        db.session.add(NotebookBlob(sha256="0" * 64, content=b"{}", size=2))
        submission = Submission(exercise_id=exercise_id, user_id=user.id,
                                notebook_hash="0" * 64, state=SubmissionState.FAILED)
        db.session.add(submission)
        db.session.commit()
        on_submission_graded(db.session, submission.id, issuer=services().issuer)
        # Unknown: nothing, and no exception.
        on_submission_graded(db.session, 12345, issuer=services().issuer)
    [course] = client.get("/api/me/progress", headers=student).get_json()["items"]
    assert course["lessons_done"] == 0


def test_course_completion_issues_exactly_one_credential(app, client, catalogue):
    student = catalogue["student"]
    progress = complete_course(app, client, student)
    assert progress["lessons_done"] == progress["lessons_total"] == 3
    assert progress["completed_at"] is not None
    credential = progress["credential"]
    assert credential["url"] == f"/api/credentials/{credential['id']}"
    assert credential["page_url"] == f"/credentials/{credential['id']}"
    assert client.get(credential["page_url"]).status_code == 200  # the page for people
    assert credential["revoked"] is False
    # More events after completion: enrolling again, reading again, passing again.
    enrol(client, student)
    lessons = lessons_of(client, "published")
    client.post(f"/api/lessons/{lessons['01-read']['id']}/complete", headers=student)
    graded_submission(app, "student", lessons["02-exercise"]["exercise_id"], 2)
    with app.app_context():
        assert db.session.scalar(select(func.count(Credential.id))) == 1
    mine = client.get("/api/me/credentials", headers=student).get_json()["items"]
    assert [item["id"] for item in mine] == [credential["id"]]
    assert mine[0]["course"] == "published" and mine[0]["version_number"] == 1


def test_the_last_lesson_completed_by_grading_issues_the_credential(app, client, catalogue):
    student = catalogue["student"]
    enrol(client, student)
    lessons = lessons_of(client, "published")
    for slug in ("01-read", "03-more"):
        body = client.post(f"/api/lessons/{lessons[slug]['id']}/complete",
                           headers=student).get_json()
    assert body["course"]["completed_at"] is None and body["course"]["credential"] is None
    graded_submission(app, "student", lessons["02-exercise"]["exercise_id"], 2)
    [course] = client.get("/api/me/progress", headers=student).get_json()["items"]
    assert course["completed_at"] is not None and course["credential"] is not None


def test_completion_counts_only_for_the_enrolled_version(app, client, catalogue, tmp_path):
    student = catalogue["student"]
    enrol(client, student)
    publish_new_version(app, tmp_path)
    v2 = lessons_of(client, "published")  # the catalogue now shows version 2
    for lesson in v2.values():
        if lesson["exercise_id"]:
            graded_submission(app, "student", lesson["exercise_id"], 2)
        else:
            assert client.post(f"/api/lessons/{lesson['id']}/complete",
                               headers=student).get_json()["course"] is None
    [course] = client.get("/api/me/progress", headers=student).get_json()["items"]
    assert (course["version_number"], course["lessons_done"], course["completed_at"]) == (
        1, 0, None)
    moved = enrol(client, student, move=True).get_json()  # the work done in v2 counts there
    assert moved["lessons_done"] == 3 and moved["completed_at"] is not None
    assert moved["credential"] is not None


def test_the_pass_mark_comes_from_course_yml(app, client, catalogue, tmp_path):
    write_course(tmp_path / "strict-src", "strict", pass_mark=0.9)
    with app.app_context():
        import_courses(db.session, load_course_folders(tmp_path / "strict-src"), publish=True)
    student = catalogue["student"]
    assert enrol(client, student, "strict").get_json()["pass_mark"] == 0.9
    exercise_id = lessons_of(client, "strict")["02-exercise"]["exercise_id"]
    graded_submission(app, "student", exercise_id, 1.6)  # 80 % < 90 %
    [course] = [c for c in client.get("/api/me/progress", headers=student).get_json()["items"]
                if c["course"] == "strict"]
    assert course["exercises"][0]["passed"] is False


@pytest.mark.parametrize("pass_mark", [0, 1.5, "most"])
def test_a_pass_mark_outside_0_to_1_is_a_course_problem(tmp_path, pass_mark):
    from panlearn.authoring.folder import CourseFolderError

    write_course(tmp_path, "wrong", pass_mark=pass_mark)
    with pytest.raises(CourseFolderError) as error:
        load_course_folders(tmp_path / "wrong")
    assert any(problem.field == "pass_mark" for problem in error.value.problems)


def test_a_submission_records_the_course_version_it_was_made_in(app, client, catalogue):
    student = catalogue["student"]
    lesson = lessons_of(client, "published")["02-exercise"]
    notebook = make_student_version(exercise_notebook())
    response = client.post(f"/api/exercises/{lesson['exercise_id']}/submissions",
                           data=nbformat.writes(notebook), headers=student,
                           content_type="application/json")
    assert response.status_code == 202, response.get_json()
    with app.app_context():
        submission = db.session.get(Submission, response.get_json()["id"])
        assert submission.course_version_id == submission.exercise.lesson.module.course_version_id
        assert submission.notebook_hash  # with the notebook hash, and each run's datasets


def test_students_see_only_their_own_progress(app, client, catalogue):
    complete_course(app, client, catalogue["student"])
    make_user(app, "other")
    other = token_for(client, "other")
    assert client.get("/api/me/progress", headers=other).get_json()["items"] == []
    assert client.get("/api/me/credentials", headers=other).get_json()["items"] == []
    assert client.get("/api/me/progress").status_code == 401


# --- analytics ---------------------------------------------------------------------------------


def test_analytics_count_learners_completion_pass_rates_and_failures(app, client, catalogue):
    complete_course(app, client, catalogue["student"])
    for name in ("s2", "s3"):
        make_user(app, name)
        enrol(client, token_for(client, name))
    exercise_id = lessons_of(client, "published")["02-exercise"]["exercise_id"]
    two_checks = [("check-answer", "passed", ""),
                  ("check-units", "failed", "AssertionError: d must be in Å\nTraceback ...")]
    graded_submission(app, "s2", exercise_id, 1, checks=two_checks)
    graded_submission(app, "s2", exercise_id, 1, checks=[
        ("check-answer", "failed", "\n  AssertionError: answer is wrong  \nmore"),
        ("check-units", "failed", "AssertionError: d must be in Å\nother detail")])
    graded_submission(app, "s3", exercise_id, 0.4, checks=[
        ("check-answer", "failed", "AssertionError: answer is wrong")])

    response = client.get("/api/courses/published/analytics", headers=catalogue["author"])
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["learners"], body["completed"], body["completion_rate"]) == (3, 1, 0.3333)
    assert (body["credentials_issued"], body["credentials_revoked"]) == (1, 0)
    assert body["versions"] == [{"version_number": 1, "status": "published", "learners": 3,
                                 "completed": 1}]
    reading = next(row for row in body["lessons"] if row["slug"] == "01-read")
    assert (reading["completed"], reading["completion_rate"]) == (1, 0.3333)
    [exercise] = body["exercises"]
    assert (exercise["learners"], exercise["submissions"], exercise["graded"],
            exercise["passed"], exercise["pass_rate"]) == (3, 4, 4, 1, 0.3333)
    # student 1.0, s2 0.5, s3 0.2
    assert exercise["mean_best_fraction"] == pytest.approx(0.5667, abs=1e-4)
    checks = {check["grade_id"]: check for check in exercise["checks"]}
    assert (checks["check-answer"]["runs"], checks["check-answer"]["passed"],
            checks["check-answer"]["pass_rate"]) == (4, 2, 0.5)
    assert (checks["check-units"]["runs"], checks["check-units"]["pass_rate"]) == (2, 0.0)
    assert exercise["common_failures"][0] == {
        "grade_id": "check-answer", "message": "AssertionError: answer is wrong", "count": 2}
    assert {"grade_id": "check-units", "message": "AssertionError: d must be in Å",
            "count": 2} in exercise["common_failures"]
    assert body["common_failures"][0]["exercise_id"] == exercise_id
    # No learner is named in the figures.
    assert "s2" not in response.get_data(as_text=True)


def test_analytics_are_only_for_the_course_organisations_staff(client, catalogue):
    expected = {"anonymous": 401, "student": 403, "ess-author": 403, "author": 200,
                "admin": 200}
    for who, status in expected.items():
        response = client.get("/api/courses/published/analytics", headers=catalogue[who])
        assert response.status_code == status, (who, response.get_json())


def test_analytics_of_a_version_and_of_a_version_that_does_not_exist(
        app, client, catalogue, tmp_path):
    enrol(client, catalogue["student"])
    publish_new_version(app, tmp_path)
    author = catalogue["author"]
    newest = client.get("/api/courses/published/analytics", headers=author).get_json()
    assert newest["version_number"] == 2 and newest["learners"] == 1
    assert [v["learners"] for v in newest["versions"]] == [1, 0]
    first = client.get("/api/courses/published/analytics?version=1", headers=author).get_json()
    assert first["version_number"] == 1
    assert client.get("/api/courses/published/analytics?version=9",
                      headers=author).status_code == 404


# --- one submission through the real grading path ----------------------------------------------


@pytest.fixture
def nexus_app(app, bubblewrap):
    """The shipped reading-nexus course published, a student, short grading limits."""
    app.config["PANLEARN"].update({"GRADING_TIMEOUT_S": 20.0, "GRADING_CELL_TIMEOUT_S": 5.0,
                                   "GRADING_LEASE_S": 3.0, "GRADING_KERNELS": 1,
                                   "GRADING_WORKERS": 1})
    make_org(app, "psi")
    make_user(app, "student")
    with app.app_context():
        import_courses(db.session, load_course_folders(REPO_ROOT / "courses" / "reading-nexus"),
                       publish=True)
    return app


@pytest.mark.slow
def test_a_really_graded_passing_submission_completes_its_exercise(nexus_app):
    """The worker process grades in a sandbox, commits, then records progress itself."""
    from panlearn.grading.runtime import LocalDispatcher
    from panlearn.models import Enrolment
    from tests.integration.submissions.conftest import EXERCISE, answered, submit, wait_for

    client = nexus_app.test_client()
    student = token_for(client, "student")
    assert enrol(client, student, "reading-nexus").status_code == 200
    lesson = lessons_of(client, "reading-nexus")[EXERCISE.stem]
    dispatcher = LocalDispatcher(services_of(nexus_app).settings, app_factory=create_app)
    replace_services(nexus_app, dispatcher=dispatcher)
    try:
        notebook = answered("float(two_theta[np.argmax(counts)])",
                            "wavelength / (2 * np.sin(np.radians(peak_two_theta / 2)))")
        url = submit(client, lesson["exercise_id"], student, notebook).headers["Location"]
        result = wait_for(client, url, student)
        # Progress is recorded by the worker just after the graded result is committed.
        deadline = time.monotonic() + 10
        while True:
            [course] = client.get("/api/me/progress", headers=student).get_json()["items"]
            how = {item["id"]: item["how"] for item in course["lessons"]}[lesson["id"]]
            if how or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    finally:
        dispatcher.stop()
    assert (result["state"], result["score"]) == ("graded", result["max_score"]), result
    assert how == "passed"
    [exercise] = [e for e in course["exercises"] if e["exercise_id"] == lesson["exercise_id"]]
    assert exercise["passed"] and exercise["best_fraction"] == 1.0
    with nexus_app.app_context():
        submission = db.session.get(Submission, result["id"])
        enrolment = db.session.scalar(select(Enrolment))
        # The submission records its version, its notebook and the data it was graded on.
        assert submission.course_version_id == enrolment.course_version_id
        assert submission.notebook_hash and submission.runs[-1].dataset_checksums

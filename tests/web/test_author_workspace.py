"""The author's workspace through the real app: import, report, preview, publish, analytics.

Imports run on the app's own runner thread, as in production; the tests poll
the report fragment as the page's script does.
"""

from __future__ import annotations

import csv
import io
import re
import time
from datetime import timedelta
from pathlib import Path

import nbformat
import pytest
import yaml
from sqlalchemy import select

from panlearn.authoring.jobs import MAX_ATTEMPTS, claim_import
from panlearn.extensions import db
from panlearn.models import Course, ImportJob, ImportJobState, Submission, User, utcnow
from panlearn.wiring import services
from tests.api.test_progress import graded_submission
from tests.builders import (
    exercise_notebook,
    make_org,
    make_user,
    reading_notebook,
    token_for,
    write_course,
    zip_folder,
)
from tests.gitserver import bare_clone, commit_folder, git_http_server
from tests.web.conftest import csrf_token, sign_in


@pytest.fixture
def workspace(app, client):
    """psi with an author, an admin and a student; ess with an author; the author signed in."""
    make_org(app, "psi", "Paul Scherrer Institute")
    make_org(app, "ess", "European Spallation Source")
    make_user(app, "author", "author", "psi")
    make_user(app, "ess-author", "author", "ess")
    make_user(app, "student")
    sign_in(client, "author")
    return client


def _token(client, path: str = "/author") -> str:
    return csrf_token(client.get(path).get_data(as_text=True))


def start_upload(client, data: bytes, name: str = "demo.zip", mode: str = "import") -> str:
    """Post the workspace's import form; the job page's path."""
    response = client.post("/author/imports", content_type="multipart/form-data", data={
        "csrf_token": _token(client), "archive": (io.BytesIO(data), name), "mode": mode,
        "git_ref": "main"})
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return response.headers["Location"]


def finished_report(client, job_page: str, timeout: float = 60) -> str:
    """Poll the report fragment, as the page's script does, until the job is done."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fragment = client.get(f"{job_page}/report").get_data(as_text=True)
        if 'data-running="false"' in fragment:
            return fragment
        time.sleep(0.2)
    raise AssertionError(f"the import did not finish: {fragment}")


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _versions(app, slug: str = "demo") -> list[tuple[int, str]]:
    with app.app_context():
        course = db.session.scalar(select(Course).where(Course.slug == slug))
        return [] if course is None else [(v.number, v.status.value) for v in course.versions]


# --- access ------------------------------------------------------------------------------------


def test_the_workspace_is_for_authors_of_an_organisation(app, client, workspace, tmp_path):
    client.post("/logout", data={"csrf_token": _token(client)})
    assert client.get("/author").status_code == 303
    assert "/login" in client.get("/author").headers["Location"]
    sign_in(client, "student")
    assert client.get("/author").status_code == 403
    assert "Workspace" not in client.get("/").get_data(as_text=True)


def test_the_navigation_links_authors_to_the_workspace(workspace):
    assert 'href="/author">Workspace</a>' in workspace.get("/").get_data(as_text=True)


# --- importing -----------------------------------------------------------------------------------


def test_an_uploaded_course_is_imported_as_a_draft_with_its_report(app, workspace, tmp_path):
    archive = zip_folder(write_course(tmp_path), "demo/")
    job = start_upload(workspace, archive)
    report = _text(finished_report(workspace, job))
    assert "Imported." in report and "demo : created as version 1 (draft)" in report
    assert _versions(app) == [(1, "draft")]
    # The same content again changes nothing, and says so.
    again = _text(finished_report(workspace, start_upload(workspace, archive)))
    assert "unchanged" in again and _versions(app) == [(1, "draft")]
    page = _text(workspace.get("/author").get_data(as_text=True))
    assert "Course demo" in page and "draft version 1" in page


def test_problems_are_reported_with_file_cell_and_field_and_nothing_is_imported(
        app, workspace, tmp_path):
    folder = write_course(tmp_path, licence="NOT-SPDX")
    bad = reading_notebook()
    bad.cells[1].execution_count = None
    nbformat.write(bad, folder / "03-more.ipynb")
    report = finished_report(workspace, start_upload(workspace, zip_folder(folder, "demo/")))
    text = _text(report)
    assert "2 problems: nothing was imported." in text
    assert "demo/course.yml , licence not an SPDX licence identifier" in text
    assert "demo/03-more.ipynb , cell #2 the reading lesson is not saved executed" in text
    assert _versions(app) == []


def test_a_malformed_archive_is_a_problem_in_the_report(app, workspace):
    report = _text(finished_report(workspace, start_upload(workspace, b"not a zip", "x.zip")))
    assert "1 problem" in report and "not a zip archive" in report


def test_check_only_reports_and_imports_nothing(app, workspace, tmp_path):
    job = start_upload(workspace, zip_folder(write_course(tmp_path), "demo/"), mode="validate")
    report = _text(finished_report(workspace, job))
    assert "No problem found" in report
    assert _versions(app) == []
    assert "Check of demo.zip" in _text(workspace.get("/author").get_data(as_text=True))


def test_another_organisations_course_is_refused_in_the_report(app, workspace, tmp_path):
    report = _text(finished_report(workspace, start_upload(
        workspace, zip_folder(write_course(tmp_path, org="ess"), "demo/"))))
    assert "you may only import courses of your own organisation" in report
    assert _versions(app) == []


def test_a_course_is_imported_from_a_public_git_url(app, workspace, tmp_path):
    repo = tmp_path / "repo"
    write_course(repo)
    commit = commit_folder(repo)
    served = tmp_path / "served"
    served.mkdir()
    bare_clone(repo, served, "courses.git")
    with git_http_server(served) as base:
        app.config["PANLEARN"]["GIT_IMPORT_URLS"] = base
        response = workspace.post("/author/imports", data={
            "csrf_token": _token(workspace), "git_url": f"{base}courses.git", "git_ref": "main",
            "mode": "import"})
        assert response.status_code == 303
        report = _text(finished_report(workspace, response.headers["Location"]))
    assert "created as version 1" in report
    with app.app_context():
        version = db.session.scalar(select(Course)).versions[0]
        assert (version.source_uri, version.source_ref) == (f"git:{base}courses.git", commit)
    assert f"git {base}courses.git at {commit[:7]}" in workspace.get(
        "/author/courses/demo").get_data(as_text=True)


def test_a_git_url_outside_the_allowed_hosts_is_refused_on_the_form(workspace):
    response = workspace.post("/author/imports", data={
        "csrf_token": _token(workspace), "git_url": "https://evil.example.org/x.git",
        "git_ref": "main", "mode": "import"})
    assert response.status_code == 400
    assert "imports git repositories only from" in response.get_data(as_text=True)


def test_the_form_without_a_source_is_refused(workspace):
    response = workspace.post("/author/imports", data={"csrf_token": _token(workspace),
                                                       "mode": "import", "git_ref": "main"})
    assert response.status_code == 400


# --- nothing lost when the request or the process dies -----------------------------------------


def _left_behind(app, tmp_path, attempts: int = 1) -> int:
    """A job its process started and never finished: running, lease expired."""
    with app.app_context():
        author = db.session.scalar(select(User).where(User.username == "author"))
        job = ImportJob(organisation_id=author.organisation_id, user=author, mode="import",
                        source_kind="upload", source_label="demo.zip",
                        archive=zip_folder(write_course(tmp_path), "demo/"),
                        state=ImportJobState.RUNNING, report={}, attempts=attempts,
                        claim_token="dead", lease_expires_at=utcnow() - timedelta(seconds=1))
        db.session.add(job)
        db.session.commit()
        return job.id


def test_a_job_left_behind_by_a_dead_process_is_resumed_when_looked_at(app, workspace,
                                                                        tmp_path):
    job_id = _left_behind(app, tmp_path)
    report = _text(finished_report(workspace, f"/author/imports/{job_id}"))
    assert "created as version 1" in report
    with app.app_context():
        job = db.session.get(ImportJob, job_id)
        assert job.state == ImportJobState.DONE and job.attempts == 2
        assert job.archive is None  # the upload is dropped once done


def test_a_job_interrupted_too_often_fails_with_a_reason(app, workspace, tmp_path):
    job_id = _left_behind(app, tmp_path, attempts=MAX_ATTEMPTS)
    with app.app_context():
        assert claim_import(db.session, job_id) is None
        job = db.session.get(ImportJob, job_id)
        assert job.state == ImportJobState.FAILED and "interrupted" in job.error
    assert "The platform failed" in workspace.get(f"/author/imports/{job_id}").get_data(
        as_text=True)
    assert _versions(app) == []


def test_a_stale_runner_cannot_overwrite_the_job_another_took_over(app, workspace, tmp_path):
    from panlearn.authoring.jobs import renew_lease

    job_id = _left_behind(app, tmp_path)
    with app.app_context():
        token = claim_import(db.session, job_id)
        assert token is not None and not renew_lease(db.session, job_id, "dead")
        assert renew_lease(db.session, job_id, token)


# --- preview, publish, unpublish --------------------------------------------------------------


def _import_folder(client, folder: Path) -> str:
    return _text(finished_report(client, start_upload(client, zip_folder(folder, "demo/"))))


def test_a_draft_is_previewed_as_students_see_it_with_a_marker(app, workspace, tmp_path):
    _import_folder(workspace, write_course(tmp_path))
    course = workspace.get("/courses/demo?version=1").get_data(as_text=True)
    assert "Preview" in course and "as students will see it" in course
    lesson_ids = list(dict.fromkeys(int(i) for i in re.findall(r'href="/lessons/(\d+)"', course)))
    exercise = workspace.get(f"/lessons/{lesson_ids[1]}").get_data(as_text=True)
    assert "Preview" in exercise and "try-out" in exercise
    assert "answer = 42" not in exercise  # the student version, as students get it
    slides = workspace.get(f"/lessons/{lesson_ids[0]}/slides").get_data(as_text=True)
    assert "pl-preview-marker" in slides and "draft version 1" in slides


def test_an_authors_submission_to_a_draft_is_a_try_out(app, workspace, tmp_path):
    from panlearn.notebooks.student import make_student_version

    _import_folder(workspace, write_course(tmp_path))
    headers = token_for(workspace, "author")
    with app.app_context():
        exercise_id = db.session.scalar(select(Course)).versions[0].modules[0].lessons[1] \
            .exercise.id
    response = workspace.post(f"/api/exercises/{exercise_id}/submissions", headers=headers,
                              data=nbformat.writes(make_student_version(exercise_notebook())),
                              content_type="application/json")
    assert response.status_code == 202, response.get_json()
    with app.app_context():
        assert db.session.scalar(select(Submission)).preview is True


def test_publishing_shows_the_changes_and_what_learners_keep(app, workspace, tmp_path):
    folder = write_course(tmp_path)
    _import_folder(workspace, folder)
    token = _token(workspace, "/author/courses/demo/publish")
    response = workspace.post("/author/courses/demo/publish",
                              data={"csrf_token": token, "version": "1"})
    assert response.status_code == 303
    assert _versions(app) == [(1, "published")]
    student = token_for(workspace, "student")
    assert workspace.post("/api/courses/demo/enrol", headers=student, json={}).status_code == 200
    # Version 2: one check worth more, a reading changed, a lesson added.
    exercise = exercise_notebook(points=3)
    nbformat.write(exercise, folder / "02-exercise.ipynb")
    nbformat.write(reading_notebook("Reading two", "Now with more."), folder / "03-more.ipynb")
    nbformat.write(reading_notebook("New"), folder / "04-new.ipynb")
    manifest = yaml.safe_load((folder / "course.yml").read_text())
    manifest["modules"][1]["lessons"].append({"notebook": "04-new.ipynb"})
    manifest["title"] = "Course demo, second edition"
    (folder / "course.yml").write_text(yaml.safe_dump(manifest))
    assert "new version 2 (draft)" in _import_folder(workspace, folder)

    page = _text(workspace.get("/author/courses/demo/publish").get_data(as_text=True))
    assert "Publish version 2 of Course demo, second edition?" in page
    assert "The 1 learner enrolled in version 1 stay on version 1" in page
    assert "added New 04-new" in page
    assert "changed Reading two 03-more : notebook changed" in page
    assert "check-answer: 2 → 3 points" in page
    assert "Title Course demo → Course demo, second edition" in page

    # A stale confirmation (another draft since) is refused, nothing published.
    stale = workspace.post("/author/courses/demo/publish",
                           data={"csrf_token": token, "version": "1"})
    assert stale.status_code == 409 and _versions(app)[-1] == (2, "draft")
    assert workspace.post("/author/courses/demo/publish",
                          data={"csrf_token": token, "version": "2"}).status_code == 303
    assert _versions(app) == [(1, "archived"), (2, "published")]
    assert "Course demo, second edition" in workspace.get("/").get_data(as_text=True)
    # The learner is still on version 1.
    progress = workspace.get("/api/me/progress", headers=student).get_json()["items"][0]
    assert progress["version_number"] == 1


def test_withdrawing_says_what_learners_keep_then_leaves_the_catalogue(app, workspace,
                                                                       tmp_path):
    _import_folder(workspace, write_course(tmp_path))
    token = _token(workspace, "/author/courses/demo/publish")
    workspace.post("/author/courses/demo/publish", data={"csrf_token": token, "version": "1"})
    page = _text(workspace.get("/author/courses/demo/unpublish").get_data(as_text=True))
    assert "Withdraw Course demo from the catalogue?" in page and "keep it" in page
    response = workspace.post("/author/courses/demo/unpublish", data={"csrf_token": token})
    assert response.status_code == 303
    assert _versions(app) == [(1, "archived")]
    client = app.test_client()
    assert "Course demo" not in client.get("/").get_data(as_text=True)


def test_the_course_page_lists_versions_with_publisher_source_and_learners(app, workspace,
                                                                           tmp_path):
    _import_folder(workspace, write_course(tmp_path))
    token = _token(workspace, "/author/courses/demo/publish")
    workspace.post("/author/courses/demo/publish", data={"csrf_token": token, "version": "1"})
    workspace.post("/api/courses/demo/enrol", headers=token_for(workspace, "student"), json={})
    page = _text(workspace.get("/author/courses/demo").get_data(as_text=True))
    assert re.search(r"#1 1\.0 Published imported \d{4}-\d\d-\d\d \d\d:\d\d UTC "
                     r"published \d{4}-\d\d-\d\d \d\d:\d\d UTC by author "
                     r"upload demo\.zip 1", page), page


def test_another_organisations_author_sees_none_of_it(app, workspace, tmp_path):
    job = start_upload(workspace, zip_folder(write_course(tmp_path), "demo/"))
    finished_report(workspace, job)
    other = app.test_client()
    sign_in(other, "ess-author")
    assert "Course demo" not in other.get("/author").get_data(as_text=True)
    for path in (job, f"{job}/report", "/author/courses/demo", "/author/courses/demo/publish",
                 "/author/courses/demo/unpublish", "/author/courses/demo/analytics",
                 "/author/courses/demo/analytics.csv"):
        assert other.get(path).status_code == 404, path


# --- analytics ---------------------------------------------------------------------------------


@pytest.fixture
def taught(app, workspace, tmp_path):
    """demo published, three learners with graded submissions, an author's try-out."""
    _import_folder(workspace, write_course(tmp_path))
    token = _token(workspace, "/author/courses/demo/publish")
    workspace.post("/author/courses/demo/publish", data={"csrf_token": token, "version": "1"})
    with app.app_context():
        exercise_id = db.session.scalar(select(Course)).versions[0].modules[0].lessons[1] \
            .exercise.id
    for name, score in (("student", 2.0), ("s2", 1.0), ("s3", 0.0)):
        if name != "student":
            make_user(app, name)
        workspace.post("/api/courses/demo/enrol", headers=token_for(workspace, name), json={})
        graded_submission(app, name, exercise_id, score)
    try_out = graded_submission(app, "author", exercise_id, 2.0)
    with app.app_context():
        db.session.get(Submission, try_out).preview = True
        db.session.commit()
    return exercise_id


def test_analytics_draw_charts_of_learners_scores_and_checks(app, workspace, taught):
    html = workspace.get("/author/courses/demo/analytics").get_data(as_text=True)
    assert html.count("<svg") >= 2
    assert re.search(r'<svg class="chart-lines"[^>]*role="img"', html)
    assert "Learners and completions over time" in html
    assert "Learners by best score in “An exercise”" in html
    # Best scores 100 %, 50 % and 0 %: one learner in each of three columns.
    assert re.search(r"<desc[^>]*>0: 1 learners; 10: 0 learners;.*50: 1 learners;.*"
                     r"100: 1 learners</desc>", html)
    text = _text(html)
    assert "3 learners, 3 submissions" in text  # the author's try-out is not one of them
    assert "1 try-out by authors, not counted" in text
    assert "check-answer : “AssertionError: answer is wrong” — 2 times" in text \
        or "AssertionError: answer is wrong" in text
    for name in ("s2", "s3", "student"):
        assert name not in text.replace("students", "")


def test_analytics_export_as_csv(workspace, taught):
    response = workspace.get("/author/courses/demo/analytics.csv")
    assert response.mimetype == "text/csv"
    assert 'filename="demo-v1-analytics.csv"' in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    figures = {(row["scope"], row["lesson"], row["check"], row["figure"]): row["value"]
               for row in rows}
    assert figures[("course", "", "", "learners")] == "3"
    assert figures[("exercise", "02-exercise", "", "submissions")] == "3"
    assert figures[("exercise", "02-exercise", "", "preview_submissions")] == "1"
    assert figures[("exercise", "02-exercise", "", "best score 100")] == "1"
    assert figures[("check", "02-exercise", "check-answer", "pass_rate")] == "0.3333"


def test_failure_examples_are_anonymised(app, workspace, taught, tmp_path):
    html = workspace.get("/author/courses/demo/analytics").get_data(as_text=True)
    link = re.search(r'href="(/author/courses/demo/exercises/\d+/failures\?[^"]+)"', html)
    assert link, "no link to examples"
    page = workspace.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    text = _text(page)
    assert "Learner A" in text and "Learner B" in text and "Learner C" not in text
    assert "AssertionError: answer is wrong" in text
    assert not re.search(r"\bs2\b|\bs3\b", text)
    assert "/submissions/" not in page


def test_a_try_out_is_no_learners_progress(app, workspace, tmp_path):
    from panlearn.models import GradingRun, LessonCompletion, NotebookBlob, SubmissionState
    from panlearn.progress.hooks import on_submission_graded

    _import_folder(workspace, write_course(tmp_path))
    with app.app_context():
        author = db.session.scalar(select(User).where(User.username == "author"))
        exercise = db.session.scalar(select(Course)).versions[0].modules[0].lessons[1].exercise
        db.session.add(NotebookBlob(sha256="0" * 64, content=b"{}", size=2))
        submission = Submission(exercise_id=exercise.id, user_id=author.id, preview=True,
                                notebook_hash="0" * 64, state=SubmissionState.GRADED,
                                score=2.0, max_score=2.0, attempts=1,
                                runs=[GradingRun(state=SubmissionState.GRADED, score=2.0,
                                                 max_score=2.0, grader_version="test",
                                                 check_suite_hash="1" * 64)])
        db.session.add(submission)
        db.session.commit()
        on_submission_graded(db.session, submission.id, issuer=services().issuer)
        assert db.session.scalar(select(LessonCompletion)) is None

"""Course archives uploaded through the API: validation, limits, path traversal."""

from __future__ import annotations

import io
import stat
import zipfile

import pytest

from tests.builders import make_org, make_user, token_for, write_course, zip_folder


@pytest.fixture
def author(app, client):
    make_org(app, "psi")
    make_org(app, "ess")
    make_user(app, "author", "author", "psi")
    make_user(app, "student")
    return token_for(client, "author")


def _upload(client, headers, data: bytes, publish=False):
    form = {"archive": (io.BytesIO(data), "course.zip")}
    if publish:
        form["publish"] = "true"
    return client.post("/api/courses/import", data=form, headers=headers,
                       content_type="multipart/form-data")


def test_upload_imports_and_reimport_is_unchanged(client, author, tmp_path):
    archive = zip_folder(write_course(tmp_path), prefix="demo/")
    response = _upload(client, author, archive, publish=True)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["courses"] == [
        {"slug": "demo", "version": 1, "outcome": "created", "status": "published"}]
    assert _upload(client, author, archive).get_json()["courses"][0]["outcome"] == "unchanged"
    assert client.get("/api/courses/demo").status_code == 200


def test_upload_with_course_yml_at_the_top_imports_the_course_as_a_draft(
        client, author, tmp_path):
    response = _upload(client, author, zip_folder(write_course(tmp_path)))
    assert response.status_code == 201
    assert response.get_json()["courses"] == [
        {"slug": "demo", "version": 1, "outcome": "created", "status": "draft"}]
    course = client.get("/api/courses/demo", headers=author).get_json()
    assert course["status"] == "draft" and course["organisation"] == "psi"
    assert course["versions"][0]["source_uri"] == "upload:course.zip"
    lessons = [(module["title"], lesson["slug"], lesson["kind"])
               for module in course["modules"] for lesson in module["lessons"]]
    assert lessons == [("Basics", "01-read", "reading"), ("Basics", "02-exercise", "exercise"),
                       ("More", "03-more", "reading")]
    # A draft is not in the public catalogue.
    assert client.get("/api/courses/demo").status_code == 404


def test_upload_reports_every_course_problem(client, author, tmp_path):
    folder = write_course(tmp_path, licence="nope")
    (folder / "01-read.ipynb").unlink()
    response = _upload(client, author, zip_folder(folder))
    assert response.status_code == 400
    body = response.get_json()
    assert body["type"].endswith("invalid-course")
    messages = [p["message"] for p in body["errors"]["problems"]]
    assert any("SPDX" in m for m in messages)
    assert any("'01-read.ipynb' not found" in m for m in messages)


def test_path_traversal_archive_is_refused_and_nothing_written(client, author, tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("course.yml", "title: x")
        archive.writestr("../../escaped.txt", "pwned")
    response = _upload(client, author, buffer.getvalue())
    assert response.status_code == 400
    assert "outside the archive" in response.get_json()["detail"]
    # Members are checked before anything is written: nowhere it could land has it.
    import tempfile
    from pathlib import Path

    for place in (Path("/escaped.txt"), Path(tempfile.gettempdir()) / "escaped.txt",
                  Path.cwd() / "escaped.txt"):
        assert not place.exists(), place


def test_symlink_member_is_refused(client, author):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("link")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, "/etc/passwd")
    response = _upload(client, author, buffer.getvalue())
    assert response.status_code == 400 and "symbolic link" in response.get_json()["detail"]


def test_oversized_upload_is_413(app, client, author):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    response = _upload(client, author, b"x" * 4096)
    assert response.status_code == 413
    assert response.content_type == "application/problem+json"


def test_zip_bomb_is_refused(app, client, author):
    app.config["PANLEARN"]["ARCHIVE_MAX_UNPACKED_MB"] = 1
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("course.yml", b"0" * (3 * 1024 * 1024))
    assert len(buffer.getvalue()) < 50_000
    response = _upload(client, author, buffer.getvalue())
    assert response.status_code == 413


def test_not_a_zip_and_missing_field(client, author):
    assert _upload(client, author, b"plain text").status_code == 400
    response = client.post("/api/courses/import", data={}, headers=author,
                           content_type="multipart/form-data")
    assert response.status_code == 422
    assert "archive" in response.get_json()["errors"]["files"]


def test_only_authors_of_the_courses_organisation_may_upload(client, author, tmp_path):
    archive = zip_folder(write_course(tmp_path, org="ess"))
    assert _upload(client, author, archive).status_code == 403
    student = token_for(client, "student")
    assert _upload(client, student, zip_folder(write_course(tmp_path / "b"))).status_code == 403
    assert _upload(client, {}, zip_folder(write_course(tmp_path / "c"))).status_code == 401


@pytest.mark.slow
@pytest.mark.requires_bubblewrap
def test_upload_grades_each_reference_solution_in_a_sandbox(app, client, author, tmp_path):
    """With validation on (the default), a failing reference solution stops the import."""
    from tests.builders import exercise_notebook

    app.config["PANLEARN"]["GRADING_VALIDATE"] = True
    good = zip_folder(write_course(tmp_path / "good"))
    response = _upload(client, author, good)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["courses"][0]["outcome"] == "created"
    broken = exercise_notebook()
    broken.cells[1].source = "### BEGIN SOLUTION\nanswer = -1\n### END SOLUTION"
    folder = write_course(tmp_path / "bad", "broken", notebooks={
        "01-read.ipynb": exercise_notebook(), "02-exercise.ipynb": broken,
        "03-more.ipynb": exercise_notebook()})
    response = _upload(client, author, zip_folder(folder))
    assert response.status_code == 400, response.get_json()
    [problem] = response.get_json()["errors"]["problems"]
    # Named as in the archive, whose course.yml is at its top.
    assert problem["file"] == "02-exercise.ipynb"
    assert "reference solution" in problem["message"] and "check-answer" in problem["message"]
    assert client.get("/api/courses/broken", headers=author).status_code == 404

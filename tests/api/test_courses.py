"""The course API: listing, filters, pagination, detail, and every permission rule."""

from __future__ import annotations

import pytest

from panlearn.authoring.folder import load_course_folders
from panlearn.authoring.service import import_courses
from panlearn.extensions import db
from tests.api.conftest import bump_title


def _slugs(client, headers, query=""):
    response = client.get(f"/api/courses{query}", headers=headers)
    assert response.status_code == 200, response.get_json()
    return [item["slug"] for item in response.get_json()["items"]]


@pytest.mark.parametrize(("who", "expected"), [
    ("anonymous", ["ess-course", "published"]),
    ("student", ["ess-course", "published"]),
    ("author", ["drafty", "ess-course", "published"]),
    ("admin", ["drafty", "ess-course", "published"]),
    ("ess-author", ["ess-course", "published"]),
])
def test_drafts_are_listed_only_for_their_organisation(client, catalogue, who, expected):
    assert _slugs(client, catalogue[who]) == expected


def test_filters(client, catalogue):
    author = catalogue["author"]
    assert _slugs(client, author, "?technique=sans") == ["published"]
    assert _slugs(client, author, "?level=advanced") == ["drafty"]
    assert _slugs(client, author, "?organisation=ess") == ["ess-course"]
    assert _slugs(client, author, "?status=draft") == ["drafty"]
    assert _slugs(client, catalogue["student"], "?status=draft") == []


def test_pagination(client, catalogue):
    response = client.get("/api/courses?per_page=2&page=2", headers=catalogue["author"])
    body = response.get_json()
    assert (body["total"], body["page"], body["per_page"], body["pages"]) == (3, 2, 2, 2)
    assert [item["slug"] for item in body["items"]] == ["published"]
    bad = client.get("/api/courses?per_page=0&page=x")
    assert bad.status_code == 422
    assert set(bad.get_json()["errors"]["query"]) == {"per_page", "page"}


def test_course_detail_has_modules_lessons_and_exercise_ids(client, catalogue):
    body = client.get("/api/courses/published").get_json()
    assert body["status"] == "published" and body["organisation"] == "psi"
    assert [m["title"] for m in body["modules"]] == ["Basics", "More"]
    lessons = body["modules"][0]["lessons"]
    assert lessons[0]["exercise_id"] is None and lessons[1]["exercise_id"] is not None
    assert body["authors"][0]["orcid"] == "0000-0002-1825-0097"


def test_draft_course_is_404_to_outsiders_and_visible_to_staff(client, catalogue):
    for who in ("anonymous", "student", "ess-author"):
        response = client.get("/api/courses/drafty", headers=catalogue[who])
        assert response.status_code == 404, who
    assert client.get("/api/courses/drafty", headers=catalogue["author"]).status_code == 200


def test_students_keep_seeing_the_published_version_while_a_new_draft_exists(
        app, client, catalogue, tmp_path):
    bump_title(tmp_path / "src" / "published", "Second edition")
    with app.app_context():
        import_courses(db.session, load_course_folders(tmp_path / "src" / "published"))
    assert client.get("/api/courses/published").get_json()["title"] == "Course published"
    staff = client.get("/api/courses/published", headers=catalogue["author"]).get_json()
    assert (staff["title"], staff["version_number"], staff["status"]) == (
        "Second edition", 2, "draft")
    old = client.get("/api/courses/published?version=1", headers=catalogue["author"]).get_json()
    assert old["title"] == "Course published"
    assert client.get("/api/courses/published?version=2").status_code == 404


@pytest.mark.parametrize(("who", "status"), [
    ("anonymous", 401), ("student", 403), ("ess-author", 403), ("author", 200), ("admin", 200),
])
def test_who_may_patch_a_draft(client, catalogue, who, status):
    response = client.patch("/api/courses/drafty", json={"title": "New title"},
                            headers=catalogue[who])
    assert response.status_code == status, response.get_json()
    if status == 200:
        assert response.get_json()["title"] == "New title"


def test_published_version_is_never_modified_in_place(client, catalogue):
    response = client.patch("/api/courses/published", json={"title": "Sneaky"},
                            headers=catalogue["author"])
    assert response.status_code == 409
    assert client.get("/api/courses/published").get_json()["title"] == "Course published"


def test_patch_validates_fields(client, catalogue):
    response = client.patch("/api/courses/drafty", json={"level": "guru", "colour": "red"},
                            headers=catalogue["author"])
    assert response.status_code == 422
    assert set(response.get_json()["errors"]["json"]) == {"level", "colour"}


@pytest.mark.parametrize(("who", "status"), [
    ("anonymous", 401), ("student", 403), ("ess-author", 403), ("author", 200),
])
def test_who_may_publish(client, catalogue, who, status):
    response = client.post("/api/courses/drafty/publish", headers=catalogue[who])
    assert response.status_code == status
    if status == 200:
        assert response.get_json()["status"] == "published"
        assert client.get("/api/courses/drafty").status_code == 200
        again = client.post("/api/courses/drafty/publish", headers=catalogue[who])
        assert again.status_code == 409


@pytest.mark.parametrize(("who", "status"), [
    ("anonymous", 401), ("student", 403), ("ess-author", 403), ("admin", 204),
])
def test_who_may_delete(client, catalogue, who, status):
    response = client.delete("/api/courses/published", headers=catalogue[who])
    assert response.status_code == status
    expected = 404 if status == 204 else 200
    assert client.get("/api/courses/published").status_code == expected


def test_organisations_are_listed(client, catalogue):
    assert [o["slug"] for o in client.get("/api/organisations").get_json()] == ["ess", "psi"]


@pytest.mark.parametrize(("who", "status"), [
    ("anonymous", 401), ("student", 403), ("ess-author", 403), ("author", 200),
])
def test_who_may_archive_and_archived_courses_leave_the_catalogue(client, catalogue, who,
                                                                  status):
    response = client.post("/api/courses/published/archive", headers=catalogue[who])
    assert response.status_code == status
    if status == 200:
        assert response.get_json()["status"] == "archived"
        assert "published" not in _slugs(client, {})
        assert client.get("/api/courses/published?version=1").status_code == 200
        again = client.post("/api/courses/published/archive", headers=catalogue[who])
        assert again.status_code == 409


def test_versions_record_who_published_them(client, catalogue):
    client.post("/api/courses/drafty/publish", headers=catalogue["author"])
    [version] = client.get("/api/courses/drafty").get_json()["versions"]
    assert version["published_by"] == "author" and version["source_uri"]

"""Search through the app: indexed after commit, drafts per organisation, no solutions."""

from __future__ import annotations

from panlearn.authoring.folder import load_course_folders
from panlearn.authoring.service import import_courses
from panlearn.extensions import db
from panlearn.wiring import services_of
from tests.api.conftest import bump_title


def _search(client, headers=None, **params):
    response = client.get("/api/search", query_string=params, headers=headers or {})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_courses_and_lessons_are_found_after_import(client, catalogue):
    body = _search(client, q="Bragg")
    assert {hit["course_slug"] for hit in body["hits"]} == {"published", "ess-course"}
    assert all(hit["kind"] == "lesson" for hit in body["hits"])
    assert "<mark>Bragg</mark>" in body["hits"][0]["snippet"]


def test_facets_and_filters(client, catalogue):
    body = _search(client, q="")
    kinds = {f["value"]: f["count"] for f in body["facets"]["kind"]}
    assert kinds == {"course": 2, "lesson": 4, "exercise": 2}
    only = _search(client, q="", technique="imaging", kind="course")
    assert [hit["course_slug"] for hit in only["hits"]] == ["ess-course"]


def test_drafts_are_found_only_by_their_organisations_authors(client, catalogue):
    assert _search(client, catalogue["student"], q="drafty")["total"] == 0
    assert _search(client, catalogue["ess-author"], q="drafty")["total"] == 0
    assert _search(client, catalogue["author"], q="drafty")["total"] >= 1


def test_solutions_and_hidden_tests_are_never_indexed(client, catalogue):
    for word in ("42", "answer == 42"):
        assert _search(client, catalogue["author"], q=f'"{word}"')["total"] == 0
    assert _search(client, q="NotImplementedError")["total"] == 2


def test_publish_update_and_delete_keep_the_index_true(app, client, catalogue, tmp_path):
    author = catalogue["author"]
    assert client.post("/api/courses/drafty/publish", headers=author).status_code == 200
    assert _search(client, catalogue["student"], q="drafty")["total"] >= 1
    bump_title(tmp_path / "src" / "published", "Neutron optics primer")
    with app.app_context():
        import_courses(db.session, load_course_folders(tmp_path / "src" / "published"),
                       publish=True, after_commit=services_of(app).course_hooks)
    assert _search(client, q="optics")["hits"][0]["course_slug"] == "published"
    assert client.delete("/api/courses/published", headers=author).status_code == 204
    assert _search(client, q="optics")["total"] == 0


def test_rebuild_equals_incremental_updates(client, runner, catalogue):
    before = _search(client, catalogue["author"], q="", per_page=50)
    result = runner.invoke(args=["search", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "indexed 12 documents from 3 courses" in result.output
    after = _search(client, catalogue["author"], q="", per_page=50)
    assert after == before


def test_bad_query_syntax_and_parameters_are_400_problems(client, catalogue):
    response = client.get("/api/search?q=status:draft")
    assert response.status_code == 400
    assert response.content_type == "application/problem+json"
    assert client.get("/api/search?kind=video").status_code == 422
    assert client.get("/api/search?per_page=1000").status_code == 422


def test_search_page_shows_hits_facets_and_explains_bad_queries(client, catalogue):
    page = client.get("/search?q=Bragg").get_data(as_text=True)
    assert "<mark>Bragg</mark>" in page and 'role="search"' in page
    assert "?q=Bragg&amp;kind=lesson" in page or "kind=lesson" in page
    filtered = client.get("/search?q=Bragg&facility=ESS").get_data(as_text=True)
    assert "1 result" in filtered
    bad = client.get("/search?q=status:draft")
    assert bad.status_code == 400 and 'role="alert"' in bad.get_data(as_text=True)
    assert "drafty" not in client.get("/search?q=drafty").get_data(as_text=True).split(
        "<h1>Search</h1>")[1].split("</form>")[1]

"""Every error is problem+json; the API documents itself."""

from __future__ import annotations

import pytest

PROBLEM_KEYS = {"type", "title", "status", "detail"}


@pytest.mark.parametrize(("method", "url", "status"), [
    ("get", "/api/courses/no-such-course", 404),
    ("get", "/api/lessons/999999", 404),
    ("get", "/api/nowhere", 404),
    ("put", "/api/courses", 405),
    ("delete", "/api/auth/token", 401),
    ("get", "/api/lessons/abc", 404),
])
def test_errors_are_problem_json(client, method, url, status):
    response = getattr(client, method)(url)
    assert response.status_code == status
    assert response.content_type == "application/problem+json"
    body = response.get_json()
    assert PROBLEM_KEYS <= set(body) and body["status"] == status
    assert "Traceback" not in response.get_data(as_text=True)


def test_method_not_allowed_names_the_allowed_methods(client):
    response = client.put("/api/courses")
    assert "GET" in response.headers["Allow"]


def test_malformed_json_body_is_a_4xx_problem(client):
    response = client.post("/api/auth/token", data="{not json", content_type="application/json")
    assert 400 <= response.status_code < 500
    assert response.content_type == "application/problem+json"


def test_unexpected_error_is_a_500_problem_without_internals(app, client):
    @app.route("/boom")
    def boom():
        raise RuntimeError("secret internals")

    response = client.get("/boom")
    assert response.status_code == 500
    assert response.content_type == "application/problem+json"
    assert "secret internals" not in response.get_data(as_text=True)


def test_openapi_document_lists_every_route_and_documents_every_error_as_problem(client):
    spec = client.get("/api/openapi.json").get_json()
    for path in ("/api/courses", "/api/courses/{slug}", "/api/courses/{slug}/publish",
                 "/api/courses/import", "/api/lessons/{lesson_id}",
                 "/api/lessons/{lesson_id}/notebook", "/api/organisations", "/api/auth/token"):
        assert path in spec["paths"], path
    # One documented error body, with the keys every error carries.
    problem = spec["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == PROBLEM_KEYS
    as_problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    responses = spec["components"]["responses"]
    for name, response in responses.items():
        assert response["content"] == as_problem, name
    # Every operation documents its errors through those responses.
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            errors = {code: documented for code, documented in operation["responses"].items()
                      if not code.startswith(("2", "3"))}
            assert "default" in errors, (method, path)
            for documented in errors.values():
                assert documented["$ref"].removeprefix("#/components/responses/") in responses


def test_docs_page_is_served_with_local_assets(client):
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/static/vendor/swagger-ui/" in html and "cdn" not in html.lower()
    asset = client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js")
    assert asset.status_code == 200
    asset.close()

"""The reading pages through the test client: catalogue, course, lesson, slides, errors."""

from __future__ import annotations

import pytest

from panlearn.notebooks.slides import SLIDES_INIT_SCRIPT_CSP_SOURCE
from panlearn.web.rendering import ASSETS_EXTENSION
from tests.builders import make_org, make_user
from tests.web.conftest import import_folder, lesson_ids, sign_in

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def test_catalogue_lists_published_courses_and_filters_with_a_get_form(client, demo):
    page = client.get("/").get_data(as_text=True)
    assert 'href="/courses/demo"' in page
    assert '<form method="get" action="/"' in page
    assert '<option value="powder diffraction">' in page
    assert '<option value="psi">Paul Scherrer Institute</option>' in page

    assert "/courses/demo" in client.get("/?level=beginner&technique=Powder+Diffraction"
                                         "&organisation=psi").get_data(as_text=True)
    filtered = client.get("/?level=advanced&technique=&organisation=").get_data(as_text=True)
    assert "/courses/demo" not in filtered
    assert "No course matches these filters." in filtered
    assert '<option value="advanced" selected>' in filtered


def test_catalogue_with_a_malformed_filter_is_a_400_page_for_browsers(client, demo):
    response = client.get("/?level=expert", headers=BROWSER)
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert "<h1>Invalid input</h1>" in response.get_data(as_text=True)


def test_course_page_lists_modules_and_lessons_in_order(client, demo):
    page = client.get("/courses/demo").get_data(as_text=True)
    assert "<h1>Course demo</h1>" in page
    assert '<h3 id="module-1">1. Basics</h3>' in page
    assert '<h3 id="module-2">2. More</h3>' in page
    positions = [page.index(f'href="/lessons/{lesson_id}"') for lesson_id in demo]
    assert positions == sorted(positions)
    assert page.count('<span class="badge">Exercise</span>') == 1
    assert "By Ada Lovelace." in page


def test_lesson_page_has_notebook_neighbours_oembed_link_and_maths(client, demo, figures):
    first, second, third = demo
    page = client.get(f"/lessons/{second}").get_data(as_text=True)
    assert 'class="pl-notebook' in page
    assert f'<a rel="prev" href="/lessons/{first}">' in page
    assert f'<a rel="next" href="/lessons/{third}">' in page
    assert ('<link rel="alternate" type="application/json+oembed" href="http://localhost/oembed'
            f'?url=http://localhost/lessons/{second}&amp;format=json"') in page
    assert '<a class="skip-link" href="#main">' in page and '<main id="main"' in page
    # The notebook brings its own <h1>, so the page adds none: one h1 only.
    assert page.count("<h1") == 1

    maths = client.get(f"/lessons/{figures[0]}").get_data(as_text=True)
    assert "$\\lambda = 2 d \\sin\\theta$" in maths  # TeX left for KaTeX to typeset
    assert '<script src="/static/vendor/katex/dist/contrib/auto-render.min.js" defer>' in maths
    assert '<script src="/static/js/maths.js" defer></script>' in maths
    assert '<link rel="stylesheet" href="/static/vendor/katex/dist/katex.min.css">' in maths


def test_a_lesson_without_a_heading_gets_the_title_as_h1(app, client, tmp_path):
    from nbformat.v4 import new_markdown_cell, new_notebook

    from tests.builders import write_course

    make_org(app, "psi")
    write_course(tmp_path / "src", "plain",
                 notebooks={"01-read.ipynb": new_notebook(cells=[new_markdown_cell("Prose.")])},
                 modules=[{"title": "M", "lessons": [{"notebook": "01-read.ipynb",
                                                      "title": "Plain lesson"}]}])
    import_folder(app, tmp_path / "src")
    page = client.get(f"/lessons/{lesson_ids(app, 'plain')[0]}").get_data(as_text=True)
    assert "<h1>Plain lesson</h1>" in page and page.count("<h1") == 1


def test_without_katex_installed_pages_work_and_show_tex_source(app, client, figures):
    app.extensions[ASSETS_EXTENSION] = frozenset()
    response = client.get(f"/lessons/{figures[0]}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "katex" not in page and "maths.js" not in page
    assert "$\\lambda = 2 d \\sin\\theta$" in page


def test_exercise_page_offers_the_student_notebook_and_asks_visitors_to_sign_in(client, demo):
    page = client.get(f"/lessons/{demo[1]}").get_data(as_text=True)
    assert f'<a class="button" href="/api/lessons/{demo[1]}/notebook" download>' in page
    assert "to submit your" in page and "Sign in</a>" in page
    assert "2 points in all" in page
    assert "<fieldset" not in client.get(f"/lessons/{demo[0]}").get_data(as_text=True)


def test_every_lesson_of_the_shipped_course_renders(client, nexus):
    for lesson in nexus:
        response = client.get(f"/lessons/{lesson}")
        assert response.status_code == 200, lesson
        assert 'class="pl-notebook' in response.get_data(as_text=True)


def test_second_view_of_a_lesson_is_served_from_the_render_cache(client, demo, monkeypatch):
    from panlearn.notebooks import render

    first = client.get(f"/lessons/{demo[0]}").get_data(as_text=True)

    def no_nbconvert(*args, **kwargs):
        raise AssertionError("nbconvert called on a cached page")

    monkeypatch.setattr(render, "export_html", no_nbconvert)
    assert client.get(f"/lessons/{demo[0]}").get_data(as_text=True) == first
    assert client.get(f"/embed/lessons/{demo[0]}").status_code == 200


def test_slides_are_reveal_js_from_the_platform_with_a_hashed_init_script(client, figures):
    response = client.get(f"/lessons/{figures[0]}/slides")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<script src="/static/vendor/reveal.js/dist/reveal.js"></script>' in html
    assert html.count("<section") >= 3
    csp = response.headers["Content-Security-Policy"]
    assert f"script-src 'self' {SLIDES_INIT_SCRIPT_CSP_SOURCE};" in csp
    assert "frame-ancestors *" in csp
    assert "http" not in csp.replace("https://", "")  # no CDN anywhere


def test_every_response_has_security_headers(client, demo):
    for url in ("/", f"/lessons/{demo[0]}", "/api/courses", "/nope", "/login"):
        headers = client.get(url).headers
        csp = headers["Content-Security-Policy"]
        for directive in ("default-src 'self'", "img-src 'self' data:", "script-src 'self';",
                          "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"):
            assert directive in csp, (url, directive)
        assert "unsafe-inline" not in csp.replace("style-src-attr 'unsafe-inline'", "")
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
        assert headers["X-Frame-Options"] == "DENY"


def test_api_docs_page_keeps_working_under_the_policy(client):
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert "'sha256-" in response.headers["Content-Security-Policy"]


def test_html_error_pages_for_browsers_problem_json_for_api_and_others(client):
    page = client.get("/no-such-page", headers=BROWSER)
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert "<h1>Not Found</h1>" in page.get_data(as_text=True)
    assert client.get("/no-such-page").mimetype == "application/problem+json"
    api = client.get("/api/no-such-thing", headers=BROWSER)
    assert api.status_code == 404 and api.mimetype == "application/problem+json"
    assert client.get("/lessons/999", headers=BROWSER).mimetype == "text/html"
    assert client.get("/lessons/999").get_json()["status"] == 404


def test_drafts_are_shown_to_their_authors_only(app, client, tmp_path):
    from tests.builders import write_course

    make_org(app, "psi")
    make_user(app, "author", "author", "psi")
    write_course(tmp_path / "src", "drafty")
    import_folder(app, tmp_path / "src", publish=False)
    lesson = lesson_ids(app, "drafty")[0]
    assert client.get("/courses/drafty").status_code == 404
    assert client.get(f"/lessons/{lesson}").status_code == 404
    assert client.get(f"/embed/lessons/{lesson}").status_code == 404
    assert "drafty" not in client.get("/").get_data(as_text=True)

    sign_in(client, "author")
    page = client.get(f"/lessons/{lesson}").get_data(as_text=True)
    assert "Preview" in page and "as students will see it once it is" in page
    assert "application/json+oembed" not in page
    embed = client.get(f"/embed/lessons/{lesson}")
    assert embed.status_code == 200
    assert "frame-ancestors 'self'" in embed.headers["Content-Security-Policy"]
    assert embed.headers["X-Frame-Options"] == "SAMEORIGIN"
    slides = client.get(f"/lessons/{lesson}/slides")
    assert "frame-ancestors 'self'" in slides.headers["Content-Security-Policy"]


@pytest.mark.parametrize("missing", ["katex", "reveal.js"])
def test_vendor_assets_are_served_from_the_installed_npm_packages(client, missing):
    from panlearn.web import assets

    if assets.installed_version(missing) is None:
        pytest.fail(f"{missing} is not installed: {assets.INSTALL_HINT}")
    path = {"katex": "dist/katex.min.js", "reveal.js": "dist/reveal.js"}[missing]
    with client.get(f"/static/vendor/{missing}/{path}") as response:
        assert response.status_code == 200
        assert response.mimetype == "text/javascript"


def test_only_pinned_packages_are_reachable_under_static_vendor(client):
    assert client.get("/static/vendor/commander/package.json").status_code == 404
    assert client.get("/static/vendor/katex/../../vendor.json").status_code == 404
    assert client.get("/static/vendor/katex/%2e%2e/reveal.js/package.json").status_code == 404

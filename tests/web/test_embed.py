"""Embeds, single cells, and the oEmbed provider."""

from __future__ import annotations

import re

from tests.web.conftest import lesson_cells, png_bytes


def test_embed_is_chrome_less_and_frameable_from_embed_origins(app, client, figures):
    response = client.get(f"/embed/lessons/{figures[0]}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<body class="embed">' in html
    assert 'class="site-header"' not in html and "skip-link" not in html
    assert 'target="_blank" rel="noopener"' in html  # attribution opens the full lesson
    assert "frame-ancestors *" in response.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in response.headers

    app.config["PANLEARN"]["EMBED_ORIGINS"] = "https://slides.example.org https://lms.example.edu"
    csp = client.get(f"/embed/lessons/{figures[0]}").headers["Content-Security-Policy"]
    assert "frame-ancestors https://slides.example.org https://lms.example.edu" in csp
    # Everything else still refuses to be framed.
    assert "frame-ancestors 'none'" in client.get(f"/lessons/{figures[0]}").headers[
        "Content-Security-Policy"]


def test_one_cell_or_only_its_output_can_be_embedded(client, figures):
    cell = client.get(f"/embed/lessons/{figures[0]}?cell=figure-cell").get_data(as_text=True)
    assert 'class="highlight' in cell and "data:image/png;base64," in cell
    assert "Bragg" not in cell
    output = client.get(f"/embed/lessons/{figures[0]}?cell=figure-cell&part=output")
    html = output.get_data(as_text=True)
    assert "data:image/png;base64," in html and 'class="highlight' not in html
    assert re.search(r'<img [^>]*alt="[^"]+"', html)  # figures have an alt text


def test_embedding_an_unknown_cell_or_part_is_an_error(client, figures):
    assert client.get(f"/embed/lessons/{figures[0]}?cell=nope").status_code == 404
    assert client.get(f"/embed/lessons/{figures[0]}?cell=figure-cell&part=x").status_code == 400
    assert client.get("/embed/lessons/12345").status_code == 404


def test_oembed_describes_a_lesson_as_a_rich_iframe(client, figures):
    lesson = figures[0]
    response = client.get(f"/oembed?url=http://localhost/lessons/{lesson}&format=json")
    assert response.status_code == 200
    body = response.get_json()
    assert body["version"] == "1.0" and body["type"] == "rich"
    assert body["title"] == "Scattering figures"
    assert body["provider_name"] == "panlearn"
    assert body["provider_url"] == "http://localhost/"
    assert (body["width"], body["height"]) == (800, 600)
    assert body["html"].startswith(f'<iframe src="http://localhost/embed/lessons/{lesson}" '
                                   'width="800" height="600" title="Scattering figures"')
    assert body["thumbnail_url"] == f"http://localhost/lessons/{lesson}/thumbnail.png"
    assert (body["thumbnail_width"], body["thumbnail_height"]) == (64, 48)
    thumbnail = client.get(body["thumbnail_url"])
    assert thumbnail.mimetype == "image/png" and thumbnail.data == png_bytes()


def test_oembed_honours_maxwidth_and_maxheight(client, figures):
    url = f"http://localhost/lessons/{figures[0]}"
    body = client.get(f"/oembed?url={url}&maxwidth=400&maxheight=300").get_json()
    assert (body["width"], body["height"]) == (400, 300)
    assert 'width="400" height="300"' in body["html"]
    small = client.get(f"/oembed?url={url}&maxwidth=32").get_json()
    assert small["width"] == 32 and "thumbnail_url" not in small  # 64 px would exceed it


def test_oembed_of_a_cell_embed_and_of_slides(client, figures):
    lesson = figures[0]
    cell = client.get("/oembed", query_string={
        "url": f"http://localhost/embed/lessons/{lesson}?cell=figure-cell&part=output"}).get_json()
    assert (f'src="http://localhost/embed/lessons/{lesson}?cell=figure-cell&amp;part=output"'
            in cell["html"])
    slides = client.get(f"/oembed?url=http://localhost/lessons/{lesson}/slides").get_json()
    assert f'src="http://localhost/lessons/{lesson}/slides"' in slides["html"]


def test_a_lesson_without_figures_has_no_thumbnail(client, demo):
    body = client.get(f"/oembed?url=http://localhost/lessons/{demo[0]}").get_json()
    assert "thumbnail_url" not in body
    assert body["author_name"] == "Ada Lovelace"
    assert client.get(f"/lessons/{demo[0]}/thumbnail.png").status_code == 404


def test_oembed_of_an_unknown_url_is_a_404_problem(client, demo):
    for url in ("http://localhost/lessons/999", "http://localhost/courses/demo",
                "http://localhost/nope", f"http://elsewhere.example/lessons/{demo[0]}",
                f"ftp://localhost/lessons/{demo[0]}", "not a url"):
        response = client.get("/oembed", query_string={"url": url},
                              headers={"Accept": "text/html,*/*;q=0.8"})
        assert response.status_code == 404, url
        assert response.mimetype == "application/problem+json"
        assert response.get_json()["status"] == 404


def test_oembed_xml_is_a_501_problem_and_a_missing_url_a_400(client, demo):
    response = client.get(f"/oembed?url=http://localhost/lessons/{demo[0]}&format=xml")
    assert response.status_code == 501
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["title"] == "Not implemented"
    missing = client.get("/oembed")
    assert missing.status_code == 400
    assert "url" in missing.get_json()["errors"]["query"]
    assert client.get(f"/oembed?url=http://localhost/lessons/{demo[0]}&maxwidth=x"
                      ).status_code == 400


def test_every_cell_of_the_shipped_course_can_be_embedded(client, app, nexus):
    for lesson in nexus:
        for cell in lesson_cells(app, lesson):
            assert client.get(f"/embed/lessons/{lesson}?cell={cell}").status_code == 200


BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
FRAMED = {**BROWSER, "Sec-Fetch-Dest": "iframe", "Sec-Fetch-Mode": "navigate"}


def test_output_part_keeps_figures_only_and_says_when_a_cell_has_none(client, figures):
    html = client.get(f"/embed/lessons/{figures[0]}?cell=figure-cell&part=output").get_data(
        as_text=True)
    assert "data:image/png;base64," in html and "&lt;Figure size" not in html
    assert 'class="embed embed-cell embed-output"' in html  # the figure fits the frame
    markdown_cell = lesson_cells(client.application, figures[0])[0]
    response = client.get(f"/embed/lessons/{figures[0]}?cell={markdown_cell}&part=output")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "No figure in this cell" in page
    assert f'href="/embed/lessons/{figures[0]}?cell={markdown_cell}"' in page


def test_an_unknown_cell_is_a_small_html_page_inside_the_frame(client, figures):
    response = client.get(f"/embed/lessons/{figures[0]}?cell=nope", headers=FRAMED)
    page = response.get_data(as_text=True)
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert "No cell &#39;nope&#39; in this notebook." in page and "site-header" not in page
    assert "frame-ancestors *" in response.headers["Content-Security-Policy"]
    # Programs still get problem+json.
    assert client.get(f"/embed/lessons/{figures[0]}?cell=nope").mimetype == (
        "application/problem+json")


def test_oembed_can_be_read_by_other_sites_scripts(client, figures):
    ok = client.get(f"/oembed?url=http://localhost/lessons/{figures[0]}&format=json",
                    headers={"Origin": "https://slides.example.org"})
    assert ok.headers["Access-Control-Allow-Origin"] == "*"
    missing = client.get("/oembed?url=http://localhost/lessons/999&format=json")
    assert missing.status_code == 404 and missing.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Origin" not in client.get(f"/lessons/{figures[0]}").headers


def test_a_framed_page_explains_the_refusal_and_links_to_the_embed(app, client, figures):
    from tests.builders import make_user
    from tests.web.conftest import sign_in

    make_user(app, "lecturer")
    sign_in(client, "lecturer")
    response = client.get(f"/lessons/{figures[0]}", headers=FRAMED)
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "cannot be shown inside another page" in page
    assert f'href="http://localhost/embed/lessons/{figures[0]}"' in page
    assert "frame-ancestors *" in response.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in response.headers
    assert "lecturer" not in page and "csrf" not in page.lower()  # nothing of the viewer
    # Not framed: the page itself, which refuses framing.
    normal = client.get(f"/lessons/{figures[0]}", headers=BROWSER)
    assert "frame-ancestors 'none'" in normal.headers["Content-Security-Policy"]
    assert 'class="pl-notebook' in normal.get_data(as_text=True)
    # Other pages: the refusal without an embed address; embeds and slides frame as before.
    login = client.get("/login", headers=FRAMED).get_data(as_text=True)
    assert "cannot be shown" in login and "/embed/" not in login
    embed = client.get(f"/embed/lessons/{figures[0]}", headers=FRAMED)
    assert "cannot be shown" not in embed.get_data(as_text=True)
    slides = client.get(f"/lessons/{figures[0]}/slides", headers=FRAMED)
    assert "reveal" in slides.get_data(as_text=True)

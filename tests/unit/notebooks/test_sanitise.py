import base64
import re

import pytest
from nbformat import v4

from panlearn.notebooks.render import render_lesson
from panlearn.notebooks.sanitise import image_data_url, sanitise_html, sanitise_svg, svg_data_url
from panlearn.notebooks.slides import render_slides
from tests.builders import PNG_1PX, display, notebook, stream

from .htmlcheck import dangers

EVIL_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
    'onload="alert(1)" width="10" height="10"><script>alert(2)</script>'
    '<a xlink:href="javascript:alert(3)"><rect width="5" height="5" onclick="alert(4)"/></a>'
    '<foreignObject><iframe src="javascript:alert(5)"></iframe></foreignObject>'
    '<set attributeName="href" to="javascript:alert(6)"/></svg>'
)


def _malicious_notebook():
    html_attacks = (
        "<script>alert('html')</script>"
        "<img src=x onerror=alert('img')>"
        "<a href='javascript:alert(1)'>js link</a>"
        "<a href=' JaVaScRiPt:alert(1)'>spaced js link</a>"
        "<a href='data:text/html,<script>alert(1)</script>'>data link</a>"
        "<iframe src='data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=='></iframe>"
        "<iframe srcdoc='<script>alert(1)</script>'></iframe>"
        "<object data='evil.swf'></object><embed src='evil.swf'>"
        "<base href='https://evil.example/'>"
        "<meta http-equiv='refresh' content='0;url=https://evil.example/'>"
        "<form action='https://evil.example/'><input name=pw><button>Go</button></form>"
        "<svg onload=alert('svg')><circle r=1 /></svg>"
        "<div onmouseover=alert(1) style='position:fixed;top:0;color:red'>over</div>"
        "<style>body{display:none}</style>"
        "<math><mtext><script>alert(1)</script></mtext></math>"
        "<table><tr><td>kept table</td></tr></table>"
    )
    return notebook(
        v4.new_markdown_cell(
            "# Lesson\n\n<script>alert('md')</script>\n\n"
            "<img src=x onerror=\"alert('md img')\">\n\n"
            "[click](javascript:alert('md link'))\n\n<a href=\"#top\" onclick=\"x()\">top</a>",
            id="md",
        ),
        v4.new_code_cell("show()", id="html-out", outputs=[
            display({"text/html": html_attacks, "text/plain": "fallback"}),
        ]),
        v4.new_code_cell("svg()", id="svg-out", outputs=[
            display({"image/svg+xml": EVIL_SVG, "text/plain": "svg"}),
        ]),
        v4.new_code_cell("js()", id="js-out", outputs=[
            display({"application/javascript": "alert('js output')", "text/plain": "js"}),
            display({"application/vnd.jupyter.widget-view+json":
                     {"model_id": "x", "version_major": 2, "version_minor": 0}}),
            display({"text/markdown": "<script>alert('md output')</script>\n\n**bold**"}),
            display({"text/latex": "$x$ <script>alert('latex')</script>"}),
            display({"text/vnd.mermaid": "graph TD; A-->B <script>alert(1)</script>"}),
            display({"image/png": PNG_1PX},
                    metadata={"filenames": {"image/png": "https://evil.example/track.png"},
                              "image/png": {"width": "1 onerror=alert(1)"}}),
            display({"image/png": "not base64 <script>"}),
            stream("<script>alert('stream')</script>\n"),
        ]),
        v4.new_raw_cell("<script>alert('raw')</script><b>raw bold</b>", id="raw",
                        metadata={"raw_mimetype": "text/html"}),
        v4.new_markdown_cell("tagged", id="tagged", metadata={"tags": ['"><script>x</script>']}),
    )


@pytest.fixture(scope="module")
def malicious_html():
    return render_lesson(_malicious_notebook())


def test_nothing_in_a_malicious_notebook_can_run_in_the_page(malicious_html):
    assert dangers(malicious_html) == []
    assert "<script" not in malicious_html.lower()
    assert 'href="javascript' not in malicious_html.lower()
    assert "evil.example" not in malicious_html
    assert "position:fixed" not in malicious_html.replace(" ", "")


def test_harmless_content_survives_sanitising(malicious_html):
    assert "<table>" in malicious_html and "kept table" in malicious_html
    assert "<strong>bold</strong>" in malicious_html
    assert "<b>raw bold</b>" in malicious_html
    assert "color:red" in malicious_html  # presentational style is kept
    assert "&lt;script&gt;alert('stream')" in malicious_html  # text shown, escaped
    assert "JavaScript output is not shown" in malicious_html
    assert "data:image/png;base64," + PNG_1PX in malicious_html


def test_svg_output_is_sanitised_and_shown_as_an_image(malicious_html):
    match = re.search(r'src="data:image/svg\+xml;base64,([^"]+)"', malicious_html)
    assert match
    svg = base64.b64decode(match.group(1)).decode()
    for needle in ("onload", "onclick", "<script", "javascript:", "foreignObject", "<set"):
        assert needle not in svg
    assert "<rect" in svg


def test_ids_from_content_are_prefixed_and_anchors_follow(malicious_html):
    assert 'id="nb-Lesson"' in malicious_html
    assert 'href="#nb-top"' in malicious_html


def test_slides_content_is_sanitised_but_scaffold_scripts_remain():
    nb = _malicious_notebook()
    nb.cells[0].metadata["slideshow"] = {
        "slide_type": "slide", "data": {"x onmouseover=alert(1) y": "1", "state": '"><b'},
    }
    html = render_slides(nb)
    scripts = re.findall(r"<script[^>]*>", html)
    assert len(scripts) == 4  # config JSON, reveal.js, notes plugin, constant init
    body = re.sub(r"<script[^>]*>.*?</script>", "", html, flags=re.S)
    assert dangers(body, allowed_tags=frozenset({"meta", "link"})) == []
    assert "onmouseover" not in html
    assert "evil.example" not in html


@pytest.mark.parametrize(
    "attack",
    [
        "<img src=x onerror=alert(1)>",
        "<a href='javascript:alert(1)'>x</a>",
        "<a href='jav&#x09;ascript:alert(1)'>x</a>",
        "<iframe src='data:text/html,x'></iframe>",
        "<svg><script>alert(1)</script></svg>",
        "<base href='https://evil.example/'>",
        "<meta http-equiv='refresh' content='0'>",
        "<form><button formaction='javascript:alert(1)'>x</button></form>",
        "<object data='x'></object><embed src='x'>",
        "<a href='data:text/html;base64,PHNjcmlwdD4='>x</a>",
        "<div style='background:url(javascript:alert(1))'>x</div>",
        "<!--<script>alert(1)</script>-->",
        "<noscript><p title='</noscript><img src=x onerror=alert(1)>'></noscript>",
    ],
)
def test_sanitise_html_defuses_known_attacks(attack):
    clean = sanitise_html(attack)
    assert dangers(clean) == []
    assert "javascript" not in clean.lower()


def test_sanitise_svg_rejects_non_svg_and_entity_bombs():
    assert sanitise_svg("<html><script>alert(1)</script></html>") is None
    assert sanitise_svg("not xml") is None
    bomb = '<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaa">]><svg>&a;</svg>'
    assert sanitise_svg(bomb) is None
    assert svg_data_url(None) is None


def test_image_data_url_only_accepts_base64_images():
    assert image_data_url(PNG_1PX, "image/png").startswith("data:image/png;base64,")
    assert image_data_url("<script>", "image/png") is None
    assert image_data_url(PNG_1PX, "text/html") is None

import os
import re
from pathlib import Path

import pytest
from nbformat import v4

from panlearn.errors import InvalidInputError, NotFoundError
from panlearn.notebooks import cache as cache_module
from panlearn.notebooks import render as render_module
from panlearn.notebooks import slides as slides_module
from panlearn.notebooks.cache import cache_path, write_atomic
from panlearn.notebooks.canonical import notebook_sha256
from panlearn.notebooks.render import highlight_css, render_cell, render_lesson
from panlearn.notebooks.slides import SLIDES_INIT_SCRIPT_CSP_SOURCE, render_slides
from tests.builders import PNG_1PX, code, display, notebook, stream

CDN_HINTS = ("cdn", "unpkg", "jsdelivr", "googleapis", "mathjax.org")


def _lesson():
    return notebook(
        v4.new_markdown_cell(
            "# Diffraction\n\nBragg: $n\\lambda = 2d\\sin\\theta$, also \\\\(E = h\\nu\\\\).\n\n"
            "$$I(q) = |F(q)|^2$$\n\n\\begin{equation}q = 4\\pi\\sin\\theta/\\lambda\\end{equation}",
            id="intro",
        ),
        v4.new_code_cell("import numpy as np\nq = np.linspace(0, 1, 5)", id="setup",
                         execution_count=1),
        v4.new_code_cell("plot(q)", id="plot", execution_count=2, outputs=[
            display({"image/png": PNG_1PX, "text/plain": "<Figure>"}),
        ]),
        v4.new_code_cell("for i in range(100): print(i)", id="long", execution_count=3,
                         outputs=[stream("".join(f"{i}\n" for i in range(100)))]),
        v4.new_code_cell("print('short')", id="short", execution_count=4,
                         outputs=[stream("short\n")]),
    )


@pytest.fixture(scope="module")
def lesson_html():
    return render_lesson(_lesson())


def test_lesson_is_a_fragment_without_document_or_script(lesson_html):
    lowered = lesson_html.lower()
    for tag in ("<html", "<head", "<body", "<script", "<style", "<link", "<!doctype"):
        assert tag not in lowered
    assert not any(hint in lowered for hint in CDN_HINTS)


def test_every_cell_is_wrapped_in_a_section_with_its_id(lesson_html):
    ids = re.findall(r'<section[^>]*id="cell-([^"]+)"', lesson_html)
    assert ids == ["intro", "setup", "plot", "long", "short"]


def test_maths_is_left_for_client_side_rendering(lesson_html):
    assert "$n\\lambda = 2d\\sin\\theta$" in lesson_html
    assert "$E = h\\nu$" in lesson_html  # nbconvert writes \\(…\\) as $…$
    assert "$$I(q) = |F(q)|^2$$" in lesson_html
    assert "\\begin{equation}" in lesson_html


def test_code_is_highlighted_and_plots_are_inline(lesson_html):
    assert 'class="highlight' in lesson_html
    assert '<span class="kn">import</span>' in lesson_html
    assert f'src="data:image/png;base64,{PNG_1PX}"' in lesson_html


def test_long_outputs_fold_into_details_and_short_ones_do_not():
    long_html = render_cell(_lesson(), "long")
    assert "<details" in long_html and "(100 lines)" in long_html
    assert "<details" not in render_cell(_lesson(), "short")
    assert "<details" not in render_lesson(_lesson(), collapse_lines=500)


def test_render_cell_returns_one_cell_or_its_output():
    cell = render_cell(_lesson(), "plot")
    assert cell.startswith('<section') and 'id="cell-plot"' in cell
    assert "cell-setup" not in cell
    output = render_cell(_lesson(), "plot", part="output")
    assert "data:image/png" in output and "plot(q)" not in output
    assert render_cell(_lesson(), "intro", part="output") == ""


def test_output_part_keeps_figures_and_rich_outputs_not_printed_text():
    nb = notebook(v4.new_code_cell("show()", id="mixed", execution_count=1, outputs=[
        stream("fitting… done\n"),
        display({"image/png": PNG_1PX, "text/plain": "<Figure>"}),
        display({"text/html": "<table><tr><td>peak</td></tr></table>", "text/plain": "df"}),
        display({"text/plain": "a plain repr"}),
    ]))
    output = render_cell(nb, "mixed", part="output")
    assert "data:image/png" in output and "<td>peak</td>" in output
    assert "fitting" not in output and "a plain repr" not in output and "<Figure>" not in output
    # A cell that only prints has no output to embed.
    assert render_cell(_lesson(), "short", part="output") == ""


@pytest.mark.parametrize("cell_id", ["nope", "../x", "plot-->"])
def test_unknown_cell_is_not_found(cell_id):
    with pytest.raises(NotFoundError):
        render_cell(_lesson(), cell_id)


def _exercise():
    return notebook(
        code("### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION", grade_id="answer", solution=True,
             cell_id="sol"),
        code("assert answer\n### BEGIN HIDDEN TESTS\nassert answer == 42\n### END HIDDEN TESTS",
             grade_id="check", points=1, cell_id="chk"),
    )


def test_exercise_is_rendered_as_the_student_version_unless_solutions_requested():
    student = render_lesson(_exercise())
    assert "42" not in student and "YOUR CODE HERE" in student
    author = render_lesson(_exercise(), solutions=True)
    assert "answer = 42" not in author  # pygments splits tokens...
    assert '<span class="mi">42</span>' in author  # ...but the answer is shown


def test_invalid_notebook_is_invalid_input():
    with pytest.raises(InvalidInputError):
        render_lesson({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{}]})


class _CountingExport:
    def __init__(self, real):
        self.real, self.calls = real, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.real(*args, **kwargs)


@pytest.fixture
def counted(monkeypatch):
    spy = _CountingExport(render_module.export_html)
    monkeypatch.setattr(render_module, "export_html", spy)
    monkeypatch.setattr(slides_module, "export_html", spy)
    return spy


def test_cache_miss_renders_and_hit_does_not_call_nbconvert(tmp_path, counted):
    nb = _lesson()
    first = render_lesson(nb, tmp_path)
    assert counted.calls == 1
    sha = notebook_sha256(nb)
    files = list(tmp_path.rglob("*.html"))
    assert len(files) == 1 and files[0].parent.name == sha[:2]
    assert files[0].name.startswith(sha)

    assert render_lesson(nb, tmp_path) == first
    # With the content address known, a hit does not even read the notebook.
    assert render_lesson({"not": "a notebook"}, tmp_path, sha256=sha) == first
    assert render_cell({}, "plot", tmp_path, sha256=sha).startswith("<section")
    assert counted.calls == 1


def test_hit_never_builds_or_calls_an_exporter(tmp_path, monkeypatch):
    nb = _lesson()
    render_lesson(nb, tmp_path)

    def explode(*args, **kwargs):
        raise AssertionError("nbconvert called on a cache hit")

    monkeypatch.setattr("nbconvert.exporters.HTMLExporter.from_notebook_node", explode)
    monkeypatch.setattr(render_module, "new_exporter", explode)
    render_lesson(nb, tmp_path)


def test_each_variant_and_content_is_its_own_entry(tmp_path, counted):
    nb = _exercise()
    render_lesson(nb, tmp_path)
    render_lesson(nb, tmp_path, solutions=True)
    render_slides(nb, tmp_path)
    render_slides(nb, tmp_path, reveal_url_prefix="/other/reveal")
    changed = _exercise()
    changed.cells[0].source += "\n# edited"
    render_lesson(changed, tmp_path)
    assert counted.calls == 5
    assert len(list(tmp_path.rglob("*.html"))) == 5


def test_cache_key_contains_the_render_stamp(tmp_path):
    sha = "a" * 64
    path = cache_path(tmp_path, sha, "lesson-abc")
    assert path == tmp_path / "aa" / f"{sha}.{cache_module.RENDER_STAMP}.lesson-abc.html"


@pytest.mark.parametrize("sha", ["../../etc/passwd", "A" * 64, "a" * 63, ""])
def test_cache_rejects_malformed_hashes(tmp_path, sha):
    with pytest.raises(ValueError):
        cache_path(tmp_path, sha, "lesson-x")


def test_writes_are_atomic_and_leave_no_temporary_files(tmp_path, monkeypatch):
    target = tmp_path / "ab" / "page.html"
    write_atomic(target, "old")

    def failing_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError):
        write_atomic(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in target.parent.iterdir()] == ["page.html"]


def test_render_leaves_only_the_page_in_the_cache(tmp_path):
    render_lesson(_lesson(), tmp_path)
    names = [p.name for p in Path(tmp_path).rglob("*") if p.is_file()]
    assert len(names) == 1 and not names[0].startswith(".")


def _deck():
    return notebook(
        v4.new_markdown_cell("# Title slide", id="s1",
                             metadata={"slideshow": {"slide_type": "slide"}}),
        v4.new_markdown_cell("first point", id="f1",
                             metadata={"slideshow": {"slide_type": "fragment"}}),
        v4.new_markdown_cell("say this aloud", id="n1",
                             metadata={"slideshow": {"slide_type": "notes"}}),
        v4.new_markdown_cell("SKIPPED TEXT", id="k1",
                             metadata={"slideshow": {"slide_type": "skip"}}),
        v4.new_markdown_cell("## Detail", id="sub",
                             metadata={"slideshow": {"slide_type": "subslide"}}),
        v4.new_markdown_cell("# Second slide", id="s2",
                             metadata={"slideshow": {"slide_type": "slide"}}),
        v4.new_code_cell("x = 1", id="c1", metadata={"slideshow": {"slide_type": "-"}}),
        title="Neutron scattering 101",
    )


def test_slides_follow_slide_types_and_load_reveal_from_the_platform():
    html = render_slides(_deck(), reveal_url_prefix="/static/vendor/reveal.js/")
    assert html.lstrip().lower().startswith("<!doctype html>")
    assert '<script src="/static/vendor/reveal.js/dist/reveal.js"></script>' in html
    assert 'href="/static/vendor/reveal.js/dist/reveal.css"' in html
    assert not any(hint in html.lower() for hint in CDN_HINTS)
    assert "<title>Neutron scattering 101</title>" in html
    slides_part = html.split('<div class="slides">', 1)[1]
    # two slides; the first holds two vertical sub-slides
    assert slides_part.count("<section") == 5
    assert '<div class="fragment">' in html
    assert '<aside class="notes">' in html and "say this aloud" in html
    assert "SKIPPED TEXT" not in html


def test_slides_init_script_matches_its_csp_hash():
    import base64
    import hashlib

    html = render_slides(_deck())
    inline = re.findall(r"<script>(.*?)</script>", html, flags=re.S)
    assert len(inline) == 1
    digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
    assert SLIDES_INIT_SCRIPT_CSP_SOURCE == f"'sha256-{digest}'"


def test_slides_with_every_cell_skipped_are_invalid_input():
    nb = notebook(v4.new_markdown_cell("x", metadata={"slideshow": {"slide_type": "skip"}}))
    with pytest.raises(InvalidInputError, match="slides"):
        render_slides(nb)


def test_slides_reject_unsafe_theme_names():
    with pytest.raises(ValueError):
        render_slides(_deck(), theme="../../evil")


def test_highlight_css_targets_rendered_code():
    css = highlight_css()
    assert ".pl-notebook .highlight .kn" in css

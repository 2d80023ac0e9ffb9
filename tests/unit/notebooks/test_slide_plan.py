"""Where slides break without slide metadata: headings, then length; metadata wins."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbformat import v4

from panlearn.notebooks.slide_plan import (
    SLIDE_LINES,
    cell_height,
    plan_slides,
    slide_type,
    split_at_headings,
)
from panlearn.notebooks.slides import render_slides
from tests.builders import PNG_1PX, display, notebook, stream

COURSES = Path(__file__).resolve().parents[3] / "courses"


def types(nb) -> list[str | None]:
    return [slide_type(cell) for cell in nb.cells]


def slide_shape(html: str) -> list[int]:
    """Sub-slides per horizontal slide (reveal.js: a <section> of <section>s)."""
    shape: list[int] = []
    depth = 0
    for tag in re.findall(r"<section|</section>", html):
        if tag == "<section":
            depth += 1
            if depth == 1:
                shape.append(0)
            elif depth == 2:
                shape[-1] += 1
        else:
            depth -= 1
    return shape


def test_level_one_and_two_headings_start_slides_and_level_three_sub_slides():
    nb = notebook(
        v4.new_markdown_cell("# Title\n\nIntro.", id="a"),
        v4.new_code_cell("x = 1", id="b"),
        v4.new_markdown_cell("## Part one\n\nText.", id="c"),
        v4.new_markdown_cell("### A detail\n\nMore.", id="d"),
        v4.new_markdown_cell("Plain text.", id="e"),
        v4.new_markdown_cell("## Part two", id="f"),
    )
    assert types(plan_slides(nb)) == ["slide", "-", "slide", "subslide", "-", "slide"]
    assert types(nb) == [None] * 6  # the notebook itself is not changed


def test_a_markdown_cell_is_split_at_its_headings_but_not_inside_code_fences():
    cell = v4.new_markdown_cell(
        "# Lesson\n\nIntro.\n\n```python\n# a comment, not a heading\n```\n\n## Method\n\n"
        "Steps.\n\n#### Small heading stays\n\n### Detail\nEnd.", id="m")
    parts = split_at_headings(cell)
    assert [part.source.splitlines()[0] for part in parts] == ["# Lesson", "## Method",
                                                              "### Detail"]
    assert [part.id for part in parts] == ["m", "m-s1", "m-s2"]
    assert "#### Small heading stays" in parts[1].source
    planned = plan_slides(notebook(cell))
    assert types(planned) == ["slide", "slide", "subslide"]


def test_a_tall_cell_gets_a_slide_of_its_own_and_what_follows_moves_on():
    long_code = "\n".join(f"value_{i} = {i}" for i in range(60))
    nb = notebook(
        v4.new_markdown_cell("# Title\n\n" + "A paragraph of text. " * 30, id="a"),
        v4.new_code_cell(long_code, id="long"),
        v4.new_markdown_cell("After the long cell.", id="after"),
        v4.new_code_cell("plot()", id="fig", outputs=[display({"image/png": PNG_1PX})]),
    )
    assert cell_height(nb.cells[1]) > SLIDE_LINES
    assert types(plan_slides(nb)) == ["slide", "subslide", "subslide", "-"]


def test_a_short_lead_in_stays_with_the_tall_cell_it_introduces():
    nb = notebook(
        v4.new_markdown_cell("## Fitting", id="h"),
        v4.new_code_cell("\n".join(f"y{i} = {i}" for i in range(50)), id="long"),
    )
    assert types(plan_slides(nb)) == ["slide", "-"]


def test_height_counts_figures_and_folds_long_text_output():
    figure = v4.new_code_cell("plot()", outputs=[display({"image/png": PNG_1PX})])
    printed = v4.new_code_cell("print(x)", outputs=[stream("".join(f"{i}\n" for i in range(200)))])
    assert cell_height(figure) > cell_height(v4.new_code_cell("plot()"))
    assert cell_height(printed) < 5  # folded into <details> on the slide


def test_slide_metadata_wins_and_skip_and_notes_are_kept():
    nb = notebook(v4.new_markdown_cell("# One"), v4.new_markdown_cell("## Two"),
                  v4.new_markdown_cell("## Three"))
    nb.cells[0].metadata["slideshow"] = {"slide_type": "slide"}
    assert plan_slides(nb) is nb  # the author said where slides start
    notes = notebook(v4.new_markdown_cell("# One"), v4.new_markdown_cell("Say this."),
                     v4.new_markdown_cell("## Two"))
    notes.cells[1].metadata["slideshow"] = {"slide_type": "notes"}
    assert types(plan_slides(notes)) == ["slide", "notes", "slide"]


def test_render_slides_splits_a_notebook_without_metadata():
    nb = notebook(v4.new_markdown_cell("# Title\n\nIntro."), v4.new_markdown_cell("## A"),
                  v4.new_markdown_cell("### A.1"), v4.new_markdown_cell("## B"))
    html = render_slides(nb)
    # Three horizontal slides; the second holds a vertical stack of two.
    assert slide_shape(html) == [1, 2, 1]
    assert '"width": 1280' in html and '"height": 720' in html


@pytest.mark.parametrize("path", sorted(COURSES.glob("*/*.ipynb")), ids=lambda p: p.name)
def test_every_shipped_lesson_gives_several_slides(path):
    nb = nbformat.read(path, as_version=4)
    shape = slide_shape(render_slides(nb))
    assert sum(shape) >= 2, (path.name, shape)
    if "exercise" not in path.name:  # exercises have one heading and numbered tasks
        assert len(shape) >= 2, (path.name, shape)


def test_a_short_text_leading_into_a_tall_cell_moves_with_it():
    nb = notebook(
        v4.new_markdown_cell("# Title\n\n" + "Some words. " * 60, id="a"),
        v4.new_markdown_cell("Now the long computation:", id="lead"),
        v4.new_code_cell("\n".join(f"z{i} = {i}" for i in range(40)), id="long"),
    )
    assert types(plan_slides(nb)) == ["slide", "subslide", "-"]


def test_a_tall_code_cell_showing_a_figure_puts_its_outputs_on_the_next_sub_slide():
    source = "\n".join(f"line_{i} = {i}" for i in range(21))
    nb = notebook(
        v4.new_markdown_cell("# Title", id="t"),
        v4.new_code_cell(source, id="fig", outputs=[stream("pixels per bin: 15\n"),
                                                      display({"image/png": PNG_1PX})]),
        v4.new_code_cell("short = 1", id="short",
                         outputs=[display({"image/png": PNG_1PX})]),
    )
    planned = plan_slides(nb)
    assert [cell.id for cell in planned.cells] == ["t", "fig", "fig-out", "short"]
    code, shown = planned.cells[1], planned.cells[2]
    assert code.source == source and code.outputs == []
    assert shown.metadata["transient"]["remove_source"] is True
    assert len(shown.outputs) == 2 and cell_height(shown) < SLIDE_LINES
    assert types(planned)[1:3] == ["-", "subslide"]  # the code fits under the title
    assert nb.cells[1].outputs and "transient" not in nb.cells[1].metadata  # a copy

    html = render_slides(nb)
    outputs_slide = html[html.index('data-cell-id="fig-out"'):]
    outputs_slide = outputs_slide[:outputs_slide.index("</section>")]
    assert "<img" in outputs_slide and "line_20" not in outputs_slide  # the figure, no code
    assert "pixels per bin" in outputs_slide

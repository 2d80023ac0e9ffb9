"""Indexing the student version of an exercise never exposes its solution."""

from __future__ import annotations

import nbformat
from nbformat.v4 import new_markdown_cell, new_notebook, new_output

from panlearn.notebooks.student import make_student_version
from panlearn.search import Index, Viewer, extract_notebook_text, search
from tests.builders import code

from .conftest import make_doc


def exercise() -> nbformat.NotebookNode:
    return new_notebook(
        cells=[
            new_markdown_cell("## Fit the Guinier region\nEstimate the radius of gyration."),
            code(
                "def radius_of_gyration(q, intensity):\n"
                "    ### BEGIN SOLUTION\n"
                "    slope = polyfit_guinier_secretsauce(q**2, log(intensity))\n"
                "    return sqrt(-3 * slope)\n"
                "    ### END SOLUTION",
                grade_id="rg",
                solution=True,
                outputs=[new_output("stream", name="stdout", text="leaked_output_word\n")],
            ),
        ]
    )


def test_student_version_is_searchable_without_its_solution(tmp_path) -> None:  # type: ignore[no-untyped-def]
    index = Index.open_or_create(tmp_path / "search")
    text = extract_notebook_text(make_student_version(exercise()))
    index.upsert([make_doc("lesson:7", kind="exercise", title="Guinier fit", **vars_of(text))])
    student = Viewer(role="student")

    assert search(index, "radius_of_gyration", viewer=student).total == 1
    assert search(index, "gyration", viewer=student).total == 1
    for solution_word in ("polyfit_guinier_secretsauce", "secretsauce", "sqrt", "slope"):
        result = search(index, solution_word, viewer=student)
        assert result.total == 0, solution_word
        assert result.suggestion is None or "secret" not in result.suggestion
    assert search(index, "leaked_output_word", viewer=student).total == 0


def test_the_teacher_version_would_have_leaked(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # Guards the test above: the solution words are findable when not stripped.
    index = Index.open_or_create(tmp_path / "search")
    text = extract_notebook_text(exercise())
    index.upsert([make_doc("lesson:7", kind="exercise", title="Guinier fit", **vars_of(text))])
    assert search(index, "secretsauce", viewer=Viewer()).total == 1


def vars_of(text) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"markdown": text.markdown, "code": text.code}

"""Which names a check takes from the student (answers) and which from the reference (context)."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
from nbformat import v4

from panlearn.grading.core.spec import load_exercise_spec
from tests.builders import code

REPO = Path(__file__).resolve().parents[3]


def notebook(*cells):
    nb = v4.new_notebook()
    nb.cells = list(cells)
    return nb


def check_of(nb, grade_id):
    return load_exercise_spec(nb).check(grade_id)


def test_data_the_authors_cells_load_is_context_and_the_answer_is_the_students():
    nb = nbformat.read(REPO / "courses/reading-nexus/03-exercise-peak-to-d-spacing.ipynb", 4)
    spec = load_exercise_spec(nb)
    peak = spec.check("peak-angle")
    assert peak.answer_names == ("peak_two_theta",)
    assert peak.context_names == ("counts", "two_theta")
    d = spec.check("d-spacing")
    assert d.answer_names == ("d_spacing",)
    assert set(d.context_names) == {"counts", "two_theta", "wavelength"}
    assert spec.needs_reference


def test_an_author_cell_computing_from_an_answer_yields_an_answer():
    nb = notebook(
        code("data = [1, 2, 3]", cell_id="load"),
        code("### BEGIN SOLUTION\nscale = 2\n### END SOLUTION", grade_id="sol", solution=True),
        code("scaled = [scale * x for x in data]\nlabel = 'ok'", cell_id="derive"),
        code("assert scaled == [2 * x for x in data]\nassert label", grade_id="chk", points=1),
    )
    check = check_of(nb, "chk")
    assert check.answer_names == ("scaled",)
    assert check.context_names == ("data", "label")


def test_an_author_cell_that_rebinds_a_name_without_answers_makes_it_context_again():
    nb = notebook(
        code("x = 0", grade_id="sol", solution=True),
        code("x = 5", cell_id="reset"),
        code("assert x == 5", grade_id="chk", points=1),
    )
    assert check_of(nb, "chk").answer_names == ()
    assert check_of(nb, "chk").context_names == ("x",)


def test_a_check_reading_only_literals_and_answers_needs_no_reference_run():
    nb = notebook(
        code("answer = 42", grade_id="sol", solution=True),
        code("assert answer == 42", grade_id="chk", points=1),
    )
    spec = load_exercise_spec(nb)
    assert spec.check("chk").answer_names == ("answer",)
    assert not spec.needs_reference


def test_a_check_calling_a_notebook_function_runs_in_the_kernel_and_has_no_context():
    nb = notebook(
        code("def f(x):\n    return 2 * x", grade_id="sol", solution=True),
        code("data = 3", cell_id="load"),
        code("assert f(data) == 6", grade_id="chk", points=1),
    )
    check = check_of(nb, "chk")
    assert not check.tamper_proof and check.trusted_names == ()


def test_describe_names_lists_answers_and_context_per_check():
    nb = nbformat.read(REPO / "courses/reading-nexus/03-exercise-peak-to-d-spacing.ipynb", 4)
    lines = load_exercise_spec(nb).describe_names()
    assert lines[0] == "peak-angle (isolated): answers: peak_two_theta; context: counts, two_theta"


def test_every_shipped_exercise_check_reads_its_data_from_context():
    """No shipped isolated check takes a name the author's own cells load from the student."""
    for path in sorted(REPO.glob("courses/*/*exercise*.ipynb")):
        nb = nbformat.read(path, 4)
        spec = load_exercise_spec(nb)
        loaded = set()
        for cell in nb.cells:
            if cell.cell_type == "code" and "nbgrader" not in cell.metadata:
                loaded |= {n for n in ("two_theta", "counts", "wavelength") if n in cell.source}
        for check in spec.checks:
            assert not (set(check.answer_names) & loaded), (path.name, check.grade_id,
                                                              json.dumps(check.answer_names))

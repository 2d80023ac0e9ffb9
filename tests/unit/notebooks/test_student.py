import copy

import pytest
from nbformat import v4

from panlearn.errors import InvalidInputError
from panlearn.grading.core.nbgrader import GradedCell, read_contract
from panlearn.grading.core.nbgrader import replace_solutions as replace_solution_regions
from panlearn.grading.core.nbgrader import strip_hidden_tests as remove_hidden_tests
from panlearn.notebooks.canonical import normalize_notebook
from panlearn.notebooks.student import (
    CODE_STUB,
    TEXT_STUB,
    MarkerError,
    is_exercise,
    make_student_version,
    needs_student_version,
)
from tests.builders import code, display, nbgrader, notebook, stream

STUB_LINES = CODE_STUB.split("\n")


@pytest.mark.parametrize(
    "begin, end",
    [
        ("### BEGIN SOLUTION", "### END SOLUTION"),      # nbgrader's exact form
        ("### BEGIN SOLUTION   ", "### END SOLUTION\t"),  # trailing whitespace (nbgrader strips)
        ("### begin solution", "### end solution"),      # lower case
        ("### Begin Solution", "### End Solution"),      # mixed case
        ("# BEGIN SOLUTION", "# END SOLUTION"),          # fewer hashes
        ("###BEGIN SOLUTION", "###END SOLUTION"),        # no space
    ],
)
def test_every_marker_form_replaces_the_region_by_the_stub(begin, end):
    source = f"a = 1\n{begin}\nanswer = 42\n{end}\nprint(answer)"
    new, replaced = replace_solution_regions(source, CODE_STUB)
    assert replaced
    assert new.split("\n") == ["a = 1", *STUB_LINES, "print(answer)"]
    assert "42" not in new


def test_indented_marker_keeps_its_indentation():
    source = (
        "def energy(wavelength):\n"
        "    ### BEGIN SOLUTION\n"
        "    return 12.398 / wavelength\n"
        "    ### END SOLUTION\n"
    )
    new, _ = replace_solution_regions(source, CODE_STUB)
    assert new == (
        "def energy(wavelength):\n"
        "    # YOUR CODE HERE\n"
        "    raise NotImplementedError()\n"
    )


def test_tab_and_nested_block_indentation_is_kept():
    source = "class A:\n\tdef f(self):\n\t\t### BEGIN SOLUTION\n\t\treturn 1\n\t\t### END SOLUTION"
    new, _ = replace_solution_regions(source, CODE_STUB)
    assert new.split("\n")[2:] == ["\t\t# YOUR CODE HERE", "\t\traise NotImplementedError()"]


def test_several_regions_in_one_cell_are_all_replaced():
    source = (
        "x = load()\n### BEGIN SOLUTION\ny = x * 2\n### END SOLUTION\n"
        "z = 3\n    ### BEGIN SOLUTION\n    w = secret\n    ### END SOLUTION"
    )
    new, _ = replace_solution_regions(source, CODE_STUB)
    assert new.count("# YOUR CODE HERE") == 2
    assert "secret" not in new and "x * 2" not in new
    assert "z = 3" in new
    assert "    raise NotImplementedError()" in new


def test_missing_end_marker_is_a_clear_error_naming_cell_and_line():
    nb = notebook(code("x = 1\n### BEGIN SOLUTION\ny = 2", grade_id="answer", solution=True,
                       cell_id="sol-1"))
    with pytest.raises(MarkerError) as caught:
        make_student_version(nb)
    assert isinstance(caught.value, InvalidInputError)
    assert "sol-1" in caught.value.detail and "line 2" in caught.value.detail
    assert "no matching `### END SOLUTION`" in caught.value.detail


def test_nested_begin_is_an_error():
    source = "### BEGIN SOLUTION\n  ### BEGIN SOLUTION\nx\n### END SOLUTION\n### END SOLUTION"
    with pytest.raises(MarkerError, match="Nested"):
        replace_solution_regions(source, CODE_STUB)


def test_end_without_begin_is_an_error_because_the_solution_would_leak():
    source = "### BEGN SOLUTION\nanswer = 42\n### END SOLUTION"
    with pytest.raises(MarkerError, match="without a matching"):
        replace_solution_regions(source, CODE_STUB)


def test_marker_text_anywhere_in_a_line_is_a_marker_as_in_nbgrader():
    # nbgrader's ClearSolutions looks for the delimiter anywhere in a line.
    source = 'x = 0\nprint("### BEGIN SOLUTION")\nx = 42  # END SOLUTION\ny = x'
    assert replace_solution_regions(source, CODE_STUB) == (f"x = 0\n{CODE_STUB}\ny = x", True)


@pytest.mark.parametrize(
    "begin, end",
    [
        ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"),
        ("    ### BEGIN HIDDEN TESTS", "    ### END HIDDEN TESTS"),
        ("# begin hidden tests", "# end hidden tests"),
        ("#BEGIN HIDDEN TESTS", "#END HIDDEN TESTS"),
    ],
)
def test_hidden_test_regions_are_removed(begin, end):
    source = f"assert f(1) == 2\n{begin}\nassert f(7) == 14\n{end}\nprint('ok')"
    new, removed = remove_hidden_tests(source)
    assert removed
    assert new == "assert f(1) == 2\nprint('ok')"


def test_hidden_tests_without_end_is_an_error():
    nb = notebook(code("assert x\n### BEGIN HIDDEN TESTS\nassert y", grade_id="check", points=1,
                       cell_id="chk"))
    with pytest.raises(MarkerError, match="HIDDEN TESTS.*no matching"):
        make_student_version(nb)


def _exercise():
    return notebook(
        v4.new_markdown_cell("# Bragg's law", id="intro"),
        v4.new_code_cell("import numpy as np", id="setup", execution_count=1,
                         outputs=[stream("numpy ready\n")]),
        code(
            "def d_spacing(theta, wavelength):\n"
            "    ### BEGIN SOLUTION\n"
            "    return wavelength / (2 * np.sin(theta))\n"
            "    ### END SOLUTION",
            grade_id="d_spacing", solution=True, cell_id="answer-1", execution_count=2,
            outputs=[stream("secret output\n")],
        ),
        code(
            "assert d_spacing(0.5, 1.0) > 0\n"
            "### BEGIN HIDDEN TESTS\n"
            "assert abs(d_spacing(0.5, 1.0) - 1.0429) < 1e-3\n"
            "### END HIDDEN TESTS",
            grade_id="check_d", points=2, cell_id="check-1", execution_count=3,
            outputs=[display({"text/plain": "1.0429"})],
        ),
        v4.new_markdown_cell(
            "The answer is Bragg.",
            id="written",
            metadata=nbgrader(solution=True, grade=True, grade_id="explain", points=1,
                              checksum="0" * 32),
            attachments={"fig.png": {"image/png": "AAAA"}},
        ),
        v4.new_markdown_cell(
            "Explain.\n### BEGIN MARK SCHEME\nFull marks if Bragg.\n### END MARK SCHEME",
            id="task",
            metadata=nbgrader(task=True, grade_id="task1", points=3),
        ),
        panlearn={"datasets": [{"pid": "10.5281/zenodo.1"}], "solutions": {"d": 1.0429},
                  "answer_key": "x"},
        celltoolbar="Create Assignment",
    )


def test_student_version_hides_solutions_hidden_tests_outputs_and_mark_schemes():
    student = make_student_version(_exercise())
    cells = {cell.id: cell for cell in student.cells}
    assert cells["answer-1"].source == (
        "def d_spacing(theta, wavelength):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    )
    assert cells["check-1"].source == "assert d_spacing(0.5, 1.0) > 0"
    assert cells["written"].source == TEXT_STUB
    assert "attachments" not in cells["written"]
    assert cells["task"].source == "Explain."
    for cell_id in ("answer-1", "check-1"):
        assert cells[cell_id].outputs == [] and cells[cell_id].execution_count is None
    # Cells that are neither answers nor checks keep their outputs.
    assert cells["setup"].outputs[0].text == "numpy ready\n"
    assert cells["setup"].execution_count == 1


def test_student_version_keeps_ids_grade_ids_and_non_secret_metadata():
    source = _exercise()
    student = make_student_version(source)
    assert [c.id for c in student.cells] == [c.id for c in source.cells]
    assert student.cells[3].metadata.nbgrader.grade_id == "check_d"
    assert student.cells[3].metadata.nbgrader.points == 2
    assert "checksum" not in student.cells[4].metadata.nbgrader
    assert student.metadata.panlearn == {"datasets": [{"pid": "10.5281/zenodo.1"}]}
    assert "celltoolbar" not in student.metadata


def test_cell_level_panlearn_solution_keys_are_stripped():
    cell = code("x = 1", grade_id="answer", solution=True)
    cell.metadata["panlearn"] = {"solution_value": 3, "hint": "use np.sin"}
    student = make_student_version(notebook(cell))
    assert student.cells[0].metadata.panlearn == {"hint": "use np.sin"}


def test_student_version_does_not_mutate_its_input():
    source = _exercise()
    before = copy.deepcopy(source)
    make_student_version(source)
    assert source == before


def test_solution_code_cell_without_markers_is_replaced_whole():
    student = make_student_version(notebook(code("answer = 42", grade_id="answer", solution=True)))
    assert student.cells[0].source == CODE_STUB


def test_markdown_region_becomes_your_answer_here():
    cell = v4.new_markdown_cell(
        "Intro\n### BEGIN SOLUTION\nIt is **elastic**.\n### END SOLUTION\nEnd",
        metadata=nbgrader(solution=True, grade_id="md"),
    )
    student = make_student_version(notebook(cell))
    assert student.cells[0].source == f"Intro\n{TEXT_STUB}\nEnd"


def test_notebook_without_markers_is_unchanged():
    nb = notebook(
        v4.new_markdown_cell("# Lesson"),
        v4.new_code_cell("print(1)", execution_count=1, outputs=[stream("1\n")]),
        kernelspec={"name": "python3", "display_name": "Python 3"},
    )
    assert make_student_version(nb) == normalize_notebook(nb)
    assert not is_exercise(nb) and not needs_student_version(nb)


def test_markers_without_nbgrader_metadata_still_require_a_student_version():
    nb = notebook(v4.new_code_cell("### BEGIN SOLUTION\nx = 1\n### END SOLUTION"))
    assert not is_exercise(nb)
    assert needs_student_version(nb)
    assert make_student_version(nb).cells[0].source == CODE_STUB


def test_is_exercise_and_the_graded_cells():
    nb = _exercise()
    assert is_exercise(nb)
    contract = read_contract(nb)
    assert not contract.problems
    assert [(c.grade_id, c.points, c.cell_id, c.cell_type, c.has_hidden_tests, c.manual)
            for c in contract.graded] == [
        ("check_d", 2.0, "check-1", "code", True, False),
        ("explain", 1.0, "written", "markdown", False, True),
        ("task1", 3.0, "task", "markdown", False, True),
    ]
    assert [c.grade_id for c in contract.checks] == ["check_d"]
    assert isinstance(contract.graded[0], GradedCell)
    assert "HIDDEN" not in contract.graded[0].visible_source
    assert [s.cell_id for s in contract.solutions] == ["answer-1", "written"]


def test_duplicate_grade_ids_are_rejected():
    nb = notebook(code("assert 1", grade_id="same", points=1),
                  code("assert 2", grade_id="same", points=1))
    with pytest.raises(InvalidInputError, match="already used"):
        read_contract(nb).raise_first()


@pytest.mark.parametrize("points", [None, -1, "2", True])
def test_check_points_must_be_a_non_negative_number(points):
    cell = v4.new_code_cell(
        "assert 1", metadata=nbgrader(grade=True, locked=True, grade_id="check", points=points))
    nb = notebook(cell)
    with pytest.raises(InvalidInputError, match="points"):
        read_contract(nb).raise_first()


def test_check_without_grade_id_is_rejected():
    cell = v4.new_code_cell("assert 1", metadata=nbgrader(grade=True, points=1))
    with pytest.raises(InvalidInputError, match="grade_id"):
        read_contract(notebook(cell)).raise_first()


def test_every_problem_is_listed_at_once():
    nb = notebook(code("assert 1", grade_id="same", points=1),
                  code("assert 2", grade_id="same", points=1),
                  code("assert 3", grade_id="p", points=-2),
                  code("### BEGIN HIDDEN TESTS\nassert 4", grade_id="q", points=1))
    problems = [message for _, message in read_contract(nb).problems]
    assert len(problems) == 3
    assert "already used" in problems[0] and "points" in problems[1]
    assert "HIDDEN TESTS" in problems[2]

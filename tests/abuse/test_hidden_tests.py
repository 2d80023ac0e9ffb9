"""Issue 13, item 2: hidden tests never reach a student, whichever delimiter they are written with.

nbgrader hides every line between two lines that *contain* the delimiters;
real assignments write ``## BEGIN HIDDEN TESTS`` or ``# BEGIN HIDDEN TESTS``.
The feedback notebook once showed such hidden code to the student.
"""

from __future__ import annotations

import json

import pytest
from nbformat import v4

from panlearn.grading.core.pipeline import grade_notebook
from panlearn.grading.core.spec import load_exercise_spec
from panlearn.notebooks.student import make_student_version
from tests.builders import code

pytestmark = pytest.mark.slow

SECRET = "the_secret_expected_value_4711"

VARIANTS = [
    ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"),
    ("## BEGIN HIDDEN TESTS", "## END HIDDEN TESTS"),
    ("# BEGIN HIDDEN TESTS", "# END HIDDEN TESTS"),
    ("#BEGIN HIDDEN TESTS", "#END HIDDEN TESTS"),
    ("    # begin hidden tests", "    # end hidden tests"),
    ("pass  # BEGIN HIDDEN TESTS (keep this)", "pass  # END HIDDEN TESTS"),
]


def exercise(begin: str, end: str):
    nb = v4.new_notebook()
    nb.cells = [
        code("### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION", grade_id="answer",
             solution=True, cell_id="answer"),
        code(f"assert isinstance(answer, int), 'an integer please'\n{begin}\n"
             f"{SECRET} = 42\nassert answer == {SECRET}, 'not the expected value'\n{end}",
             grade_id="check", points=1, cell_id="check"),
    ]
    return nb


@pytest.mark.parametrize(("begin", "end"), VARIANTS)
def test_hidden_tests_appear_in_no_student_visible_output(begin, end, pool, abuse_settings):
    source = exercise(begin, end)
    spec = load_exercise_spec(source)
    assert SECRET not in spec.check("check").visible_source
    student = make_student_version(source)
    assert SECRET not in json.dumps(student)
    for answer, score in (("answer = 41", 0), ("answer = 42", 1)):
        submission = make_student_version(source)
        submission.cells[0].source = answer
        outcome = grade_notebook(source, submission, parameters={}, data_files=[],
                                 settings=abuse_settings, pool=pool)
        assert outcome.score == score
        shown = json.dumps(outcome.executed_notebook) + json.dumps(
            [c.to_dict() for c in outcome.checks])
        assert SECRET not in shown

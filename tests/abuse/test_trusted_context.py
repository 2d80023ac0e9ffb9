"""Issue 13, item 1: an answer cell that rebinds the data the checks recompute from gains nothing.

Before, checks read every name from the student's kernel, so a student who
replaced ``two_theta`` and ``counts`` by arrays of their own making passed
the checks that compute "expected" from them. Now those names are context,
taken from the reference run of the author's notebook on the same file.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from panlearn.grading.core.pipeline import grade_notebook
from panlearn.notebooks.student import make_student_version

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]

# Fake data made so that a wrong "peak" is where the fake maximum is.
REBIND = (
    "import numpy as np\n"
    "two_theta = np.array([20.0, 30.0, 40.0, 50.0])\n"
    "counts = np.array([0.0, 900.0, 0.0, 0.0])\n"
)


def answered(path: str, answers: dict[str, str]):
    source = nbformat.read(REPO / path, 4)
    student = make_student_version(source)
    for cell in student.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
    return source, student


def grade(source, student, pool, settings, dmc_file):
    return grade_notebook(source, student, parameters={"data_file": str(dmc_file)},
                          data_files=[dmc_file], settings=settings, pool=pool)


def scores(outcome) -> dict[str, float]:
    return {c.grade_id: c.score for c in outcome.checks}


def test_rebinding_the_data_arrays_scores_zero_on_the_checks_that_read_them(
    pool, abuse_settings, dmc_file
):
    source, student = answered("courses/reading-nexus/03-exercise-peak-to-d-spacing.ipynb", {
        "peak-angle-solution": REBIND + "peak_two_theta = 30.0",
        "d-spacing-solution": "wavelength = 1.0\n"
                              "d_spacing = wavelength / (2 * np.sin(np.radians(15.0)))",
    })
    outcome = grade(source, student, pool, abuse_settings, dmc_file)
    assert scores(outcome) == {"peak-angle": 0, "d-spacing": 0}
    peak = next(c for c in outcome.checks if c.grade_id == "peak-angle")
    assert peak.ran and "highest count is elsewhere" in peak.output


def test_rebinding_the_data_fails_the_powder_diffraction_exercise_too(
    pool, abuse_settings, dmc_file
):
    source, student = answered(
        "courses/powder-diffraction/03-exercise-peaks-and-d-spacings.ipynb",
        {"peaks": REBIND + "peak_two_theta = np.array([30.0])",
         "dspacing": "d_spacing = wavelength / (2 * np.sin(np.radians(peak_two_theta / 2)))",
         "qvalues": "q_values = 2 * np.pi / d_spacing"})
    outcome = grade(source, student, pool, abuse_settings, dmc_file)
    assert scores(outcome)["check-peaks"] == 0
    assert scores(outcome)["check-d-spacing"] == 0


def test_the_honest_answer_still_scores_full_marks(pool, abuse_settings, dmc_file):
    path = "courses/reading-nexus/03-exercise-peak-to-d-spacing.ipynb"
    source = nbformat.read(REPO / path, 4)
    outcome = grade(source, source, pool, abuse_settings, dmc_file)
    assert outcome.score == outcome.max_score == 3

"""Grading the DMC powder-diffraction exercise on the real NeXus file, in real sandboxes."""

from __future__ import annotations

from pathlib import Path

import pytest

from panlearn.grading.core.errors import SubmissionRejectedError
from panlearn.grading.core.pipeline import grade_notebook, validate_reference_solution
from panlearn.grading.core.pool import KernelPool, Priority
from panlearn.grading.core.settings import GradingSettings
from panlearn.notebooks.student import make_student_version
from tests.builders import answer_source, answered, dmc_source, solved

pytestmark = pytest.mark.slow


def grade(
    submission, pool: KernelPool | None, settings: GradingSettings, dmc_file: Path, source=None
):
    return grade_notebook(
        source or dmc_source(),
        submission,
        parameters={"data_file": str(dmc_file)},
        data_files=[dmc_file],
        settings=settings,
        pool=pool,
    )


def by_id(outcome):
    return {c.grade_id: c for c in outcome.checks}


def test_reference_solution_scores_full_marks_and_spec_is_returned(
    pool, grading_settings, dmc_file
):
    spec, outcome = validate_reference_solution(
        dmc_source(),
        parameters={"data_file": str(dmc_file)},
        data_files=[dmc_file],
        settings=grading_settings,
        pool=pool,
    )
    assert outcome.score == outcome.max_score == 6
    assert all(c.ran and c.status == "passed" for c in outcome.checks)
    assert [c.tamper_proof for c in spec.checks] == [True, True, False]


def test_unchanged_student_version_scores_zero_with_not_implemented(
    pool, grading_settings, dmc_file
):
    outcome = grade(make_student_version(dmc_source()), pool, grading_settings, dmc_file)
    assert outcome.score == 0
    for check in outcome.checks:
        assert check.status == "failed"
        assert "not implemented" in check.output.lower()


def test_cold_grading_without_pool_gives_the_same_result(grading_settings, dmc_file):
    submission = answered(make_student_version(dmc_source()), solved(dmc_source()))
    outcome = grade(submission, None, grading_settings, dmc_file)
    assert outcome.score == 6
    assert set(outcome.timings) >= {
        "prepare",
        "wait_kernel",
        "execute",
        "extract",
        "checks",
        "total",
    }


def test_wrong_units_lose_exactly_that_checks_points(pool, grading_settings, dmc_file):
    answers = solved(dmc_source())
    answers["dspacing"] = (
        "d_spacing = wavelength / (2 * np.sin(np.radians(two_theta_max / 2))) / 10  # nm"
    )
    outcome = grade(
        answered(make_student_version(dmc_source()), answers), pool, grading_settings, dmc_file
    )
    checks = by_id(outcome)
    assert outcome.score == 3 and outcome.max_score == 6
    assert checks["check_d"].score == 0 and checks["check_d"].ran
    assert "ångström" in checks["check_d"].output  # the hidden assertion's message, not its code
    assert "3.525" not in checks["check_d"].output
    assert checks["check_peak"].score == 2 and checks["check_bragg"].score == 1


def test_partial_credit_sums_over_checks(pool, grading_settings, dmc_file):
    answers = solved(dmc_source())
    answers["peak"] = answers["peak"].replace("np.argmax(counts)", "np.argmin(counts)")
    answers["bragg"] = "def bragg_d(wavelength, two_theta_deg):\n    return 0.0"
    outcome = grade(
        answered(make_student_version(dmc_source()), answers), pool, grading_settings, dmc_file
    )
    checks = by_id(outcome)
    assert (checks["check_peak"].score, checks["check_d"].score, checks["check_bragg"].score) == (
        0,
        0,
        0,
    )
    assert "strongest peak" in checks["check_peak"].output
    answers = solved(dmc_source())
    answers["bragg"] = "def bragg_d(wavelength, two_theta_deg):\n    return 0.0"
    outcome = grade(
        answered(make_student_version(dmc_source()), answers), pool, grading_settings, dmc_file
    )
    assert outcome.score == 5
    assert by_id(outcome)["check_bragg"].output == "bragg_d(2.0, 60.0) should be 2.0 Å"


def test_edited_and_deleted_check_cells_are_restored(pool, grading_settings, dmc_file):
    answers = solved(dmc_source())
    answers["dspacing"] = "d_spacing = 1.0"
    nb = answered(make_student_version(dmc_source()), answers)
    for cell in nb.cells:
        if cell.get("id") == "check_d":
            cell.source = "pass  # nothing to see"
    nb.cells = [c for c in nb.cells if c.get("id") != "check_peak"]
    outcome = grade(nb, pool, grading_settings, dmc_file)
    checks = by_id(outcome)
    assert checks["check_d"].score == 0 and checks["check_d"].ran
    assert checks["check_peak"].score == 2 and checks["check_peak"].ran
    feedback = "".join(c.source for c in outcome.executed_notebook.cells)
    assert "HIDDEN TESTS" not in feedback and "3.525" not in feedback


def test_hidden_tests_never_reach_the_student_kernel(pool, grading_settings, dmc_file):
    answers = solved(dmc_source())
    answers["bragg"] += (
        "\nimport sys, os\n"
        "_in = sys.modules['__main__'].__dict__.get('In', [])[:-1]\n"
        "_seen = [v for v in _in if 'HIDDEN' in v or '42.7' in v]\n"
        "print('LEAK' if _seen else 'clean')"
    )
    outcome = grade(
        answered(make_student_version(dmc_source()), answers), pool, grading_settings, dmc_file
    )
    texts = [
        o.get("text", "") for c in outcome.executed_notebook.cells for o in c.get("outputs", [])
    ]
    assert any("clean" in t for t in texts) and not any("LEAK" in t for t in texts)


def test_submission_for_another_exercise_is_rejected_before_running(
    pool, grading_settings, dmc_file
):
    other = make_student_version(dmc_source())
    for cell in other.cells:
        cell.metadata.pop("nbgrader", None)
        cell.id = cell.id + "-other"
    with pytest.raises(SubmissionRejectedError, match="does not belong"):
        grade(other, pool, grading_settings, dmc_file)
    with pytest.raises(SubmissionRejectedError, match="not a valid Jupyter notebook"):
        grade(b'{"cells": 3}', pool, grading_settings, dmc_file)


def test_interactive_submissions_go_before_bulk(grading_settings):
    """Two submissions wait for a kernel; the interactive one gets the next, the bulk one after.

    The real launcher forks kernels in milliseconds, so new kernels are held at a
    gate until both submissions wait.
    """
    import threading
    import time

    from panlearn.grading.core.launchers import make_launcher

    gate = threading.Event()
    launcher = make_launcher(grading_settings)
    real_start = launcher.start_kernel

    def gated_start(*args, **kwargs):
        gate.wait(60)
        return real_start(*args, **kwargs)

    launcher.start_kernel = gated_start
    order: list[str] = []
    kernels = []

    def take(label: str, priority: Priority) -> None:
        kernels.append(pool.acquire_kernel(priority, timeout=60))
        order.append(label)

    with KernelPool(grading_settings, size=1, launcher=launcher) as pool:
        bulk = threading.Thread(target=take, args=("bulk", Priority.BULK))
        bulk.start()
        time.sleep(0.2)
        interactive = threading.Thread(target=take, args=("interactive", Priority.INTERACTIVE))
        interactive.start()
        time.sleep(0.2)
        gate.set()
        bulk.join(60)
        interactive.join(60)
        for kernel in kernels:
            kernel.kill()
    launcher.close()
    assert order == ["interactive", "bulk"]


def test_checks_read_the_state_after_the_cell_before_them_even_when_it_failed(
    pool, grading_settings, dmc_file
):
    # An isolated check's answers are normally taken with the request of the cell
    # just before it; when that cell fails they are taken by the check's own cell.
    source = answer_source()
    cases = {
        "answer = 42": True,
        "answer = 42\nraise ValueError('a later line fails')": True,
        "answer = 41": False,
    }
    for code, passes in cases.items():
        submission = answered(make_student_version(source), {"answer": code})
        outcome = grade(submission, pool, grading_settings, dmc_file, source=source)
        (result,) = outcome.checks
        assert result.ran and result.tamper_proof, code
        assert (result.status == "passed") is passes, (code, result.output)

"""The kernel pool: what its kernels preload, and when it starts them."""

from __future__ import annotations

from pathlib import Path

import pytest
from nbformat import v4

from panlearn.grading.pipeline import grade_notebook
from panlearn.grading.pool import KernelPool
from panlearn.grading.settings import GradingSettings
from tests.unit.grading.nbbuild import code

pytestmark = pytest.mark.slow

BASE = ("numpy", "h5py")


def sees_fractions_preloaded() -> v4.NotebookNode:
    """An exercise importing `fractions` late, whose one check asks whether it was preloaded."""
    nb = v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [
        code("data_file = 'x'", tags=["parameters"], cell_id="params"),
        code("import sys\npreloaded = 'fractions' in sys.modules", cell_id="probe"),
        code("assert preloaded, 'fractions was not preloaded'", grade_id="check-preloaded",
             points=1, cell_id="check"),
        code("import fractions", cell_id="late-import"),
    ]
    return nb


def test_kernels_started_to_replace_taken_ones_preload_what_was_asked(
    grading_settings: GradingSettings,
) -> None:
    with KernelPool(grading_settings, size=2) as pool:
        assert pool.wait_until_full(60)
        assert pool.preloads() == [BASE, BASE]

        first = pool.acquire_kernel(timeout=60, modules=("fractions",))
        assert first.preload == BASE  # none fitted better: the closest one, at once
        first.kill()
        assert pool.wait_until_full(60)
        assert sorted(pool.preloads()) == [BASE, (*BASE, "fractions")]

        fitting = pool.acquire_kernel(timeout=60, modules=("fractions",))
        assert fitting.preload == (*BASE, "fractions")
        lightest = pool.acquire_kernel(timeout=60)
        assert lightest.preload == BASE
        for kernel in (fitting, lightest):
            kernel.kill()
        assert pool.wait_until_full(60)
        assert sorted(pool.preloads()) == [BASE, (*BASE, "fractions")]


def test_a_submission_runs_in_a_kernel_that_imported_its_exercise_modules(
    grading_settings: GradingSettings, tmp_path: Path
) -> None:
    source = sees_fractions_preloaded()
    with KernelPool(grading_settings, size=1) as pool:
        assert pool.wait_until_full(60)
        outcomes = []
        for _ in range(2):
            outcomes.append(grade_notebook(source, source, parameters={}, data_files=[],
                                           settings=grading_settings, pool=pool))
            assert pool.wait_until_full(60)
    # The first ran in a kernel started before the pool knew this exercise; the second in
    # the one started in its place, which imported `fractions` before any student code.
    assert [o.score for o in outcomes] == [0, 1]
    assert "fractions was not preloaded" in outcomes[0].checks[0].output


def test_kernels_get_the_graders_matplotlib_font_cache(tmp_path: Path) -> None:
    from panlearn.grading.sandbox import font_cache, make_run_dir

    settings = GradingSettings(work_dir=tmp_path / "runs")
    cache = font_cache(settings)
    assert [p.name for p in cache] and all(p.name.startswith("fontlist-") for p in cache)
    kernel_dir = make_run_dir(settings, None, "kernel")
    copies = sorted((kernel_dir / ".mpl").iterdir())
    assert [p.read_bytes() for p in copies] == [p.read_bytes() for p in cache]
    # A kernel's copy is its own: nothing it writes there reaches the next kernel.
    copies[0].write_text("{}")
    assert make_run_dir(settings, None, "kernel").joinpath(".mpl", cache[0].name).read_bytes() \
        == cache[0].read_bytes()
    assert not any((make_run_dir(settings, None, "checks") / ".mpl").iterdir())


def test_while_a_submission_is_graded_replacements_wait_unless_none_is_warm(
    grading_settings: GradingSettings,
) -> None:
    with KernelPool(grading_settings, size=2) as pool:
        assert pool.wait_until_full(60)
        with pool.busy():
            first = pool.acquire_kernel(timeout=60)
            # One kernel is still warm: nothing starts to compete with this grading.
            assert pool.ready_counts()[0] == 1 and pool._starting["kernel"] == 0
            second = pool.acquire_kernel(timeout=60)
            # None is left: the pool refills at once, grading or not.
            assert pool._starting["kernel"] + pool.ready_counts()[0] >= 1
        assert pool.wait_until_full(60)
        for kernel in (first, second):
            kernel.kill()

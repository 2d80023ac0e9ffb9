"""The kernel pool: what its kernels preload, and when it starts them."""

from __future__ import annotations

from pathlib import Path

import pytest
from nbformat import v4

from panlearn.grading.core.pipeline import grade_notebook
from panlearn.grading.core.pool import KernelPool
from panlearn.grading.core.settings import GradingSettings
from tests.builders import code

pytestmark = pytest.mark.slow

BASE = ("numpy", "h5py")


def sees_colorsys_preloaded() -> v4.NotebookNode:
    """An exercise importing `colorsys` late, whose one check asks whether it was preloaded."""
    nb = v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [
        code("data_file = 'x'", tags=["parameters"], cell_id="params"),
        code("import sys\npreloaded = 'colorsys' in sys.modules", cell_id="probe"),
        code("assert preloaded, 'colorsys was not preloaded'", grade_id="check-preloaded",
             points=1, cell_id="check"),
        code("import colorsys", cell_id="late-import"),
    ]
    return nb


def test_kernels_started_to_replace_taken_ones_preload_what_was_asked(
    grading_settings: GradingSettings,
) -> None:
    with KernelPool(grading_settings, size=2) as pool:
        assert pool.wait_until_full(60)
        assert pool.preloads() == [BASE, BASE]

        first = pool.acquire_kernel(timeout=60, modules=("colorsys",))
        assert first.preload == BASE  # none fitted better: the closest one, at once
        first.kill()
        assert pool.wait_until_full(60)
        assert sorted(pool.preloads()) == [BASE, (*BASE, "colorsys")]

        fitting = pool.acquire_kernel(timeout=60, modules=("colorsys",))
        assert fitting.preload == (*BASE, "colorsys")
        lightest = pool.acquire_kernel(timeout=60)
        assert lightest.preload == BASE
        for kernel in (fitting, lightest):
            kernel.kill()
        assert pool.wait_until_full(60)
        # The zygote launcher's environment now imports colorsys for every kernel it forks.
        assert (*BASE, "colorsys") in pool.preloads()


def test_a_submission_runs_in_a_kernel_that_imported_its_exercise_modules(
    grading_settings: GradingSettings, tmp_path: Path
) -> None:
    source = sees_colorsys_preloaded()
    with KernelPool(grading_settings, size=1) as pool:
        assert pool.wait_until_full(60)
        outcomes = []
        for _ in range(2):
            outcomes.append(grade_notebook(source, source, parameters={}, data_files=[],
                                           settings=grading_settings, pool=pool))
            assert pool.wait_until_full(60)
    # The first ran in a kernel started before the pool knew this exercise; the second in
    # the one started in its place, which imported `colorsys` before any student code.
    assert [o.score for o in outcomes] == [0, 1]
    assert "colorsys was not preloaded" in outcomes[0].checks[0].output


def test_kernels_get_a_copy_of_the_graders_matplotlib_font_cache(
    grading_settings: GradingSettings,
) -> None:
    """A kernel that imports matplotlib does not rebuild the font cache (a second of CPU)."""
    from panlearn.grading.core.sandbox import font_cache

    cache = font_cache(grading_settings)
    assert [p.name for p in cache] and all(p.name.startswith("fontlist-") for p in cache)
    nb = v4.new_notebook()
    nb.cells = [
        code("import os\nseen = sorted(os.listdir(os.environ['MPLCONFIGDIR']))\n"
             "open(os.path.join(os.environ['MPLCONFIGDIR'], 'mine'), 'w').write('x')",
             grade_id="look", solution=True, cell_id="look"),
        code(f"assert {[p.name for p in cache]!r} == [n for n in seen if n != 'mine'], seen\n"
             "assert 'mine' not in seen, 'an earlier kernel wrote here'",
             grade_id="check-cache", points=1, cell_id="check"),
    ]
    with KernelPool(grading_settings, size=1) as pool:
        for _ in range(2):  # the second kernel does not see what the first wrote
            outcome = grade_notebook(nb, nb, parameters={}, data_files=[],
                                     settings=grading_settings, pool=pool)
            assert outcome.score == 1, outcome.checks[0].output


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


def test_a_production_grader_refuses_to_start_without_per_submission_limits(
    tmp_path: Path, shared_data_dir: Path
) -> None:
    """Without cgroups a submission's processes are limited one by one only: say so, loudly."""
    from panlearn import create_app
    from panlearn.config import ConfigurationError
    from panlearn.grading.runtime import build_context

    def app(**overrides):
        return create_app({
            "ENV": "production", "SECRET_KEY": "a test key, not a secret",
            "INSTANCE_DIR": str(tmp_path / "instance"), "GRADING_CGROUP": "off",
            "GRADING_PRELOAD": "numpy", "DATA_DIRS": [str(shared_data_dir / "nexus")],
            **overrides})

    with pytest.raises(ConfigurationError, match="memory and process count per submission"):
        build_context(app(), warm_kernels=0)
    context = build_context(app(GRADING_WEAK_LIMITS=True), warm_kernels=0)
    assert context.pool.launcher.weak_limits
    context.pool.close()

"""Every reading lesson of every shipped course runs top to bottom on the real data."""

from __future__ import annotations

import os

import pytest

from tests.integration.courses.conftest import ShippedLesson, shipped_lessons

pytestmark = pytest.mark.slow

READING = shipped_lessons("reading")


@pytest.mark.parametrize("lesson", READING, ids=lambda lesson: lesson.id)
def test_reading_lesson_runs_on_the_real_data(lesson: ShippedLesson, resolve_parameters, tmp_path):
    import papermill

    parameters, _ = resolve_parameters(lesson)
    if lesson.datasets:
        tagged = [c for c in lesson.notebook().cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, "a lesson that names datasets needs one cell tagged 'parameters'"
    cwd = os.getcwd()
    try:
        papermill.execute_notebook(str(lesson.path), str(tmp_path / "out.ipynb"),
                                   parameters=parameters, cwd=str(tmp_path), kernel_name="python3",
                                   progress_bar=False, execution_timeout=120)
    finally:
        os.chdir(cwd)


def test_shipped_reading_lessons_show_their_figures_and_stay_small():
    import nbformat

    for lesson in READING:
        assert lesson.path.stat().st_size < 1_500_000, lesson.id
        notebook = nbformat.read(str(lesson.path), as_version=4)
        outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])]
        if lesson.datasets and any(c.cell_type == "code" for c in notebook.cells):
            assert outputs, f"{lesson.id} is shipped without outputs: execute it before committing"
        assert not any(o.get("output_type") == "error" for o in outputs), lesson.id

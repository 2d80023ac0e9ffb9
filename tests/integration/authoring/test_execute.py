"""`flask --app app courses execute`: a reading lesson saved executed, on its real data."""

from __future__ import annotations

import shutil

import nbformat

from panlearn.grading.core.spec import is_parameters_cell
from tests.conftest import REPO_ROOT

LESSON = REPO_ROOT / "courses" / "powder-diffraction" / "01-powder-diffraction-at-dmc.ipynb"


def test_execute_runs_on_the_data_and_restores_the_parameters_cell(runner, tmp_path):
    path = tmp_path / LESSON.name
    shutil.copy(LESSON, path)
    notebook = nbformat.read(path, as_version=4)
    parameters_source = next(c.source for c in notebook.cells if is_parameters_cell(c))
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.write(notebook, path)

    result = runner.invoke(args=["courses", "execute", str(path)])
    assert result.exit_code == 0, result.output

    executed = nbformat.read(path, as_version=4)
    assert len(executed.cells) == len(notebook.cells)  # nothing injected
    assert not any("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells)
    parameters = next(c for c in executed.cells if is_parameters_cell(c))
    assert parameters.source == parameters_source  # the bare file name again
    code = [c for c in executed.cells if c.cell_type == "code" and c.source.strip()]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1))
    assert any(output.get("data", {}).get("image/png") for c in code for output in c.outputs)
    assert "papermill" not in executed.metadata
    assert not any("execution" in c.metadata for c in code)  # no timings: same run, same file


def test_a_failing_cell_saves_nothing(runner, tmp_path):
    path = tmp_path / "broken.ipynb"
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 / 0")])
    nbformat.write(notebook, path)
    before = path.read_bytes()
    result = runner.invoke(args=["courses", "execute", str(path)])
    assert result.exit_code == 1 and "ZeroDivisionError" in result.output, result.output
    assert path.read_bytes() == before

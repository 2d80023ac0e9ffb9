"""Saving a reading lesson executed, on its real data (`flask --app app courses execute`).

A reading lesson is shown as saved, so it must be saved with its outputs.
Running it with papermill leaves an `injected-parameters` cell behind and
gaps in the execution counts; running it by hand needs the data file beside
the notebook. Here the notebook's own `parameters` cell is pointed at the
verified local copies of its files for the run (nothing is injected), the
notebook runs top to bottom in a fresh kernel (execution counts 1, 2, 3 …),
and the cell is put back to the bare file names before the file is written.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

from panlearn.datasets.resolve import (
    papermill_parameters,
    resolve_exercise_datasets,
    with_assigned_files,
)
from panlearn.datasets.settings import DatasetsContext
from panlearn.errors import InvalidInputError
from panlearn.grading.core.spec import is_parameters_cell


@dataclass(frozen=True)
class Executed:
    """How a run went."""

    cells: int
    seconds: float


def execute_lesson(path: Path, *, data: DatasetsContext, timeout_s: int,
                   output: Path) -> Executed:
    """Run the notebook at `path` on its data and write it, executed, to `output`.

    Raises `InvalidInputError` when a cell fails (nothing is written) or the
    notebook names datasets without a `parameters` cell.
    """
    notebook = nbformat.read(path, as_version=4)
    datasets = (notebook.metadata.get("panlearn") or {}).get("datasets") or []
    tagged = [cell for cell in notebook.cells if is_parameters_cell(cell)]
    if datasets and not tagged:
        raise InvalidInputError(f"{path.name} names datasets but has no cell tagged "
                                "'parameters' to receive their paths.")
    resolved = resolve_exercise_datasets(datasets, registry=data.registry, cache=data.file_cache)
    original = tagged[0].source if tagged else None
    if tagged:
        tagged[0].source = with_assigned_files(original, papermill_parameters(resolved))
    kernel = (notebook.metadata.get("kernelspec") or {}).get("name") or "python3"
    # No timing metadata: re-executing an unchanged lesson must give the same notebook.
    client = NotebookClient(notebook, timeout=timeout_s, kernel_name=kernel, record_timing=False,
                            resources={"metadata": {"path": str(path.parent.resolve())}})
    began = time.monotonic()
    try:
        client.execute()
    except CellExecutionError as error:
        first = str(error).strip().splitlines()
        raise InvalidInputError(f"{path.name}: a cell failed, nothing was saved: "
                                f"{first[-1] if first else error}") from None
    except (CellTimeoutError, DeadKernelError) as error:
        raise InvalidInputError(f"{path.name}: {error}; nothing was saved.") from None
    finally:
        if tagged:
            tagged[0].source = original
    seconds = time.monotonic() - began
    nbformat.write(notebook, output)
    ran = sum(1 for cell in notebook.cells
              if cell.cell_type == "code" and cell.get("execution_count") is not None)
    return Executed(cells=ran, seconds=seconds)

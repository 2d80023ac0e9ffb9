"""Turn an uploaded notebook into the notebook that is actually graded.

Like nbgrader's sanitize phase: validate the format, refuse notebooks of
another exercise, strip outputs, and restore every check cell (and the
parameters cell) from the author's source by grade id / cell id, so edited
or deleted checks change nothing. Nothing here runs code.
"""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

import nbformat
from nbformat import NotebookNode

from panlearn.grading.core.nbgrader import cell_key, is_check_cell
from panlearn.grading.core.nbgrader import meta as nbgrader_meta

from .errors import SubmissionRejectedError
from .settings import GradingSettings
from .spec import ExerciseSpec, is_parameters_cell

#: Cell metadata key marking which check a cell of the graded notebook holds.
CHECK_MARK = "panlearn_check"


def read_notebook(data: bytes | str | NotebookNode | dict[str, Any]) -> NotebookNode:
    """Parse and validate an nbformat 4 notebook, or raise `SubmissionRejectedError`."""
    try:
        if isinstance(data, bytes | str):
            nb = nbformat.reads(
                data if isinstance(data, str) else data.decode("utf-8"), as_version=4
            )
        else:
            nb = nbformat.from_dict(copy.deepcopy(dict(data)))
            if nb.get("nbformat") != 4:
                nb = nbformat.convert(nb, 4)
        nbformat.validate(nb)
    except Exception as exc:  # nbformat raises many kinds (JSON, schema, version)
        raise SubmissionRejectedError(
            f"not a valid Jupyter notebook (nbformat 4): {_first_line(exc)}"
        ) from exc
    return nb


def output_bytes(nb: NotebookNode) -> int:
    """Total size of the outputs stored in a notebook, as JSON."""
    return sum(
        len(json.dumps(cell.get("outputs", []), ensure_ascii=False))
        for cell in nb.cells
        if cell.get("cell_type") == "code"
    )


def prepare_submission(
    spec: ExerciseSpec,
    source_nb: NotebookNode,
    submitted: bytes | str | NotebookNode | dict[str, Any],
    settings: GradingSettings,
) -> NotebookNode:
    """Return the submission with outputs stripped and check cells restored from the source.

    Restored check cells carry their full source (hidden tests included) and
    ``metadata[CHECK_MARK] = grade_id``; they must never be shown to the
    student as they are (see `pipeline`, which puts the visible source back).
    """
    nb = read_notebook(submitted)
    size = output_bytes(nb)
    if size > settings.max_output_bytes:
        raise SubmissionRejectedError(
            f"the notebook carries {size:,} bytes of outputs, "
            f"over the {settings.max_output_bytes:,} "
            "byte limit: clear the outputs (Kernel → Restart & Clear Output) and submit again",
            errors={"outputs": size},
        )
    source_cells = source_nb.cells
    checks_by_key: dict[str, str] = {}
    for check in spec.checks:
        checks_by_key[check.grade_id] = check.grade_id
        if check.cell_id:
            checks_by_key.setdefault(check.cell_id, check.grade_id)
    known_keys = set(checks_by_key) | set(spec.solution_ids)
    known_keys |= {c["id"] for c in source_cells if c.get("id") and is_check_cell(c)}

    submitted_keys = {_keys(c) for c in nb.cells}
    if not any(set(keys) & known_keys for keys in submitted_keys):
        raise SubmissionRejectedError(
            "this notebook does not belong to this exercise: none of its cells matches the "
            "exercise's answer or check cells (download the exercise notebook again and "
            "write your answers into it)"
        )

    cells: list[NotebookNode] = []
    placed: set[str] = set()
    for cell in nb.cells:
        cell = _strip(cell)
        grade_id = next((checks_by_key[k] for k in _keys(cell) if k in checks_by_key), None)
        if grade_id is not None and grade_id not in placed:
            cells.append(_restored(source_cells[spec.check(grade_id).cell_index], grade_id))
            placed.add(grade_id)
            continue
        meta = cell.get("metadata", {}).get("nbgrader")
        if isinstance(meta, dict) and meta.get("grade") and not meta.get("solution"):
            # A copy of a check, or a cell dressed up as one: graded as plain code.
            meta["grade"] = False
        cells.append(cell)

    # Re-insert deleted checks after the nearest source cell that is still present.
    for check in spec.checks:
        if check.grade_id in placed:
            continue
        position = _insert_position(cells, source_cells, check.cell_index)
        cells.insert(position, _restored(source_cells[check.cell_index], check.grade_id))
        placed.add(check.grade_id)

    if spec.parameters_cell_index is not None and not any(is_parameters_cell(c) for c in cells):
        source_params = _strip(copy.deepcopy(source_cells[spec.parameters_cell_index]))
        position = _insert_position(cells, source_cells, spec.parameters_cell_index)
        cells.insert(position, source_params)

    nb.cells = cells
    _dedupe_ids(nb)
    nb.metadata.pop("papermill", None)
    return nb


def _keys(cell: NotebookNode) -> tuple[str, ...]:
    keys = []
    gid = nbgrader_meta(cell).get("grade_id")
    if gid:
        keys.append(str(gid))
    if cell.get("id"):
        keys.append(cell["id"])
    return tuple(keys)


def _strip(cell: NotebookNode) -> NotebookNode:
    cell = copy.deepcopy(cell)
    if cell.get("cell_type") == "code":
        cell.outputs = []
        cell.execution_count = None
    cell.get("metadata", {}).pop("papermill", None)
    cell.get("metadata", {}).pop(CHECK_MARK, None)
    return cell


def _restored(source_cell: NotebookNode, grade_id: str) -> NotebookNode:
    cell = _strip(copy.deepcopy(source_cell))
    cell.metadata[CHECK_MARK] = grade_id
    return cell


def _insert_position(
    cells: list[NotebookNode], source_cells: list[NotebookNode], index: int
) -> int:
    """Index just after the last cell present in ``cells`` that precedes ``index`` in the source."""
    present = {k: i for i, c in enumerate(cells) for k in (*_keys(c), c.metadata.get(CHECK_MARK))}
    for source_cell in reversed(source_cells[:index]):
        for key in (cell_key(source_cell), source_cell.get("id")):
            if key and key in present:
                return present[key] + 1
    return 0


def _dedupe_ids(nb: NotebookNode) -> None:
    seen: set[str] = set()
    for cell in nb.cells:
        cid = cell.get("id")
        if not cid or cid in seen:
            cell["id"] = uuid.uuid4().hex[:12]
        seen.add(cell["id"])


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__

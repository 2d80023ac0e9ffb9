"""Small in-memory notebook builders for the notebook service tests."""

from __future__ import annotations

from typing import Any

from nbformat import NotebookNode, v4


def nbgrader(**fields: Any) -> dict[str, Any]:
    """Cell metadata with an nbgrader block (schema 3 defaults)."""
    meta = {"schema_version": 3, "grade": False, "solution": False, "locked": False}
    meta.update(fields)
    return {"nbgrader": meta}


def solution_code(source: str, grade_id: str = "answer", **kw: Any) -> NotebookNode:
    return v4.new_code_cell(source, metadata=nbgrader(solution=True, grade_id=grade_id), **kw)


def check_code(source: str, grade_id: str = "check", points: float = 1, **kw: Any) -> NotebookNode:
    return v4.new_code_cell(
        source, metadata=nbgrader(grade=True, locked=True, grade_id=grade_id, points=points), **kw
    )


def notebook(*cells: NotebookNode, **metadata: Any) -> NotebookNode:
    nb = v4.new_notebook(metadata=metadata)
    nb.cells = list(cells)
    return nb


def stream(text: str, name: str = "stdout") -> NotebookNode:
    return v4.new_output("stream", name=name, text=text)


def display(data: dict[str, Any], **kw: Any) -> NotebookNode:
    return v4.new_output("display_data", data=data, **kw)


# A 1x1 transparent PNG.
PNG_1PX = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)

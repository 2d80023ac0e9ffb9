"""Student versions of exercise notebooks, following nbgrader's conventions.

An exercise notebook carries its solutions and hidden checks; the student must
get neither. The rules are nbgrader's, read from `grading.core.nbgrader` (the one
place that defines cell kinds and region markers), applied as small steps over
a deep copy of the notebook:

- code between `BEGIN SOLUTION` / `END SOLUTION` markers becomes
  `# YOUR CODE HERE` + `raise NotImplementedError()`, indented like the marker;
  in markdown the region becomes `YOUR ANSWER HERE`;
- a solution cell (`metadata.nbgrader.solution`) without markers is replaced
  whole by the stub;
- `BEGIN HIDDEN TESTS` … `END HIDDEN TESTS` and `BEGIN MARK SCHEME` …
  `END MARK SCHEME` regions are removed;
- outputs and execution counts of solution and check cells are cleared;
- cell ids and `metadata.nbgrader` (grade ids, points) are kept so that a
  submission can be matched cell by cell; nbgrader's `checksum` (an MD5 of the
  instructor's source) and answer keys in `metadata.panlearn` are dropped.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from nbformat import NotebookNode

from panlearn.grading.core import nbgrader
from panlearn.grading.core.nbgrader import CODE_STUB, TEXT_STUB, MarkerError
from panlearn.notebooks.canonical import normalize_notebook
from panlearn.quizzes.blocks import strip_answer_keys

__all__ = ["CODE_STUB", "TEXT_STUB", "MarkerError", "is_exercise", "make_student_version",
           "needs_student_version"]

# Keys under `metadata.panlearn` (notebook or cell) that may hold answers.
_SECRET_KEY_PREFIXES = ("solution", "answer", "hidden")


def is_exercise(nb: Mapping[str, Any]) -> bool:
    """Tell whether the notebook has nbgrader graded, task or solution cells."""
    return any(nbgrader.is_solution_cell(cell) or nbgrader.is_graded_cell(cell)
               for cell in nb.get("cells", []))


def needs_student_version(nb: Mapping[str, Any]) -> bool:
    """Tell whether showing the notebook as-is to a student could reveal an answer."""
    return is_exercise(nb) or nbgrader.has_answer_markers(nb)


def _strip_secret_keys(metadata: dict[str, Any]) -> None:
    """Drop answer keys from `metadata.panlearn`; everything else is kept."""
    panlearn = metadata.get("panlearn")
    if not isinstance(panlearn, dict):
        return
    for key in [k for k in panlearn if str(k).lower().startswith(_SECRET_KEY_PREFIXES)]:
        del panlearn[key]
    if not panlearn:
        del metadata["panlearn"]


def _student_cell(cell: NotebookNode, index: int) -> None:
    """Apply every rule to one cell, in place."""
    cell_id = str(cell.get("id", ""))
    stub = CODE_STUB if cell.cell_type == "code" else TEXT_STUB
    source = str(cell.get("source", ""))
    source, replaced = nbgrader.replace_solutions(source, stub, cell_id=cell_id, index=index)
    source, hidden = nbgrader.strip_hidden_tests(source, cell_id=cell_id, index=index)
    source, _ = nbgrader.strip_mark_schemes(source, cell_id=cell_id, index=index)
    solution = nbgrader.is_solution_cell(cell)
    if solution and not replaced:
        # nbgrader: a solution cell without markers is all answer.
        source = stub
        cell.pop("attachments", None)  # a pasted image may be the answer
    cell.source = source
    if cell.cell_type == "code" and (solution or nbgrader.is_graded_cell(cell) or replaced
                                     or hidden):
        # An output can show the answer or the result of a hidden check.
        cell.outputs = []
        cell.execution_count = None
    meta = cell.metadata.get("nbgrader")
    if isinstance(meta, dict):
        meta.pop("checksum", None)  # MD5 of the instructor's cell: a guessable oracle
    _strip_secret_keys(cell.metadata)


def make_student_version(nb: Mapping[str, Any]) -> NotebookNode:
    """Return the student version of an exercise notebook (the input is unchanged).

    The result is normalised (cell ids present) and keeps every cell, in order,
    with its id and nbgrader metadata. A notebook without markers or nbgrader
    cells comes back equal to its normalised form. Raises `MarkerError` (an
    `InvalidInputError`) for malformed regions, naming the cell and line.
    """
    student = copy.deepcopy(normalize_notebook(nb))
    for index, cell in enumerate(student.cells):
        _student_cell(cell, index)
    student.metadata.pop("celltoolbar", None)  # nbgrader's authoring toolbar
    _strip_secret_keys(student.metadata)
    strip_answer_keys(student)  # ```quiz blocks keep their question and options only
    return student

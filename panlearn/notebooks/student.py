"""Student versions of exercise notebooks, following nbgrader's conventions.

An exercise notebook carries its solutions and hidden checks; the student must
get neither. The rules are nbgrader's (so nbgrader assignments import as they
are), applied as small steps over a deep copy of the notebook:

- code between `### BEGIN SOLUTION` / `### END SOLUTION` becomes
  `# YOUR CODE HERE` + `raise NotImplementedError()`, indented like the marker;
  in markdown the region becomes `YOUR ANSWER HERE`;
- a solution cell (`metadata.nbgrader.solution`) without markers is replaced
  whole by the stub;
- `### BEGIN HIDDEN TESTS` … `### END HIDDEN TESTS` and `### BEGIN MARK SCHEME`
  … `### END MARK SCHEME` regions are removed;
- outputs and execution counts of solution and check cells are cleared;
- cell ids and `metadata.nbgrader` (grade ids, points) are kept so that a
  submission can be matched cell by cell; nbgrader's `checksum` (an MD5 of the
  instructor's source) and answer keys in `metadata.panlearn` are dropped.

Where nbgrader would silently leak, we are stricter: markers are recognised in
any case and with any number of `#` (`# begin solution` hides too), and an
END marker without its BEGIN is an error, since it usually means a mistyped
BEGIN left a solution in plain sight.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from nbformat import NotebookNode

from panlearn.errors import InvalidInputError
from panlearn.notebooks.canonical import normalize_notebook
from panlearn.quizzes.blocks import strip_answer_keys

#: nbgrader's default code stub (ClearSolutions.code_stub for Python).
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
#: nbgrader's default text stub (ClearSolutions.text_stub).
TEXT_STUB = "YOUR ANSWER HERE"

# nbgrader matches `### BEGIN SOLUTION` exactly (after strip); we accept any
# case and number of `#` so that a near-miss hides the solution instead of
# publishing it.
_BEGIN_SOLUTION = re.compile(r"^(\s*)#+\s*BEGIN\s+SOLUTION\s*$", re.IGNORECASE)
_END_SOLUTION = re.compile(r"^\s*#+\s*END\s+SOLUTION\s*$", re.IGNORECASE)
# nbgrader matches `BEGIN HIDDEN TESTS` anywhere in a line; same here, any case.
_BEGIN_HIDDEN = re.compile(r"BEGIN\s+HIDDEN\s+TESTS", re.IGNORECASE)
_END_HIDDEN = re.compile(r"END\s+HIDDEN\s+TESTS", re.IGNORECASE)
_BEGIN_MARK_SCHEME = re.compile(r"BEGIN\s+MARK\s+SCHEME", re.IGNORECASE)
_END_MARK_SCHEME = re.compile(r"END\s+MARK\s+SCHEME", re.IGNORECASE)

# Keys under `metadata.panlearn` (notebook or cell) that may hold answers.
_SECRET_KEY_PREFIXES = ("solution", "answer", "hidden")


class MarkerError(InvalidInputError):
    """A solution/hidden-test region is malformed (unclosed, nested or stray END)."""


@dataclass(frozen=True)
class Check:
    """One graded cell of an exercise, as the grader and the feedback see it."""

    grade_id: str
    points: float
    cell_id: str
    cell_type: str
    has_hidden_tests: bool
    #: True for cells a person grades (nbgrader "manually graded answer" or "task").
    manual: bool


@dataclass(frozen=True)
class SolutionCell:
    """A cell the student answers in; `grade_id` is None for autograded answers."""

    cell_id: str
    cell_type: str
    grade_id: str | None


def _nbgrader(cell: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, Mapping) else {}


def is_solution_cell(cell: Mapping[str, Any]) -> bool:
    """Nbgrader `solution: true`: the student writes this cell."""
    return bool(_nbgrader(cell).get("solution"))


def is_grade_cell(cell: Mapping[str, Any]) -> bool:
    """Nbgrader `grade: true` (or a `task` cell): this cell earns points."""
    meta = _nbgrader(cell)
    return bool(meta.get("grade") or meta.get("task"))


def has_answer_markers(nb: Mapping[str, Any]) -> bool:
    """Tell whether any cell holds a solution, hidden-test or mark-scheme marker."""
    for cell in nb.get("cells", []):
        for line in str(cell.get("source", "")).split("\n"):
            if (_BEGIN_SOLUTION.match(line) or _BEGIN_HIDDEN.search(line)
                    or _BEGIN_MARK_SCHEME.search(line)):
                return True
    return False


def is_exercise(nb: Mapping[str, Any]) -> bool:
    """Tell whether the notebook has nbgrader grade, task or solution cells."""
    return any(is_solution_cell(cell) or is_grade_cell(cell) for cell in nb.get("cells", []))


def needs_student_version(nb: Mapping[str, Any]) -> bool:
    """Tell whether showing the notebook as-is to a student could reveal an answer."""
    return is_exercise(nb) or has_answer_markers(nb)


def _where(cell_id: str, index: int, line_no: int) -> str:
    return f"cell {cell_id or index} (cell #{index + 1}), line {line_no}"


def replace_solution_regions(
    source: str, stub: str, *, cell_id: str = "", index: int = 0
) -> tuple[str, bool]:
    """Replace every BEGIN/END SOLUTION region by `stub`, indented like its marker.

    Returns the new source and whether a region was found. Raises `MarkerError`
    for a nested BEGIN, a missing END or an END without BEGIN.
    """
    out: list[str] = []
    begun_at = 0
    replaced = False
    for line_no, line in enumerate(source.split("\n"), start=1):
        begin = _BEGIN_SOLUTION.match(line)
        if begin:
            if begun_at:
                raise MarkerError(
                    f"Nested `### BEGIN SOLUTION` at {_where(cell_id, index, line_no)}; "
                    f"the region opened on line {begun_at} is not closed."
                )
            begun_at, replaced = line_no, True
            out.extend(begin.group(1) + stub_line for stub_line in stub.split("\n"))
        elif _END_SOLUTION.match(line):
            if not begun_at:
                raise MarkerError(
                    f"`### END SOLUTION` without a matching `### BEGIN SOLUTION` at "
                    f"{_where(cell_id, index, line_no)}; check the BEGIN marker's spelling."
                )
            begun_at = 0
        elif not begun_at:
            out.append(line)
    if begun_at:
        raise MarkerError(
            f"`### BEGIN SOLUTION` at {_where(cell_id, index, begun_at)} has no matching "
            "`### END SOLUTION`."
        )
    return "\n".join(out), replaced


def remove_regions(
    source: str, begin: re.Pattern[str], end: re.Pattern[str], label: str,
    *, cell_id: str = "", index: int = 0,
) -> tuple[str, bool]:
    """Drop every region between `begin` and `end` lines (markers included)."""
    out: list[str] = []
    begun_at = 0
    removed = False
    for line_no, line in enumerate(source.split("\n"), start=1):
        if begin.search(line):
            if begun_at:
                raise MarkerError(
                    f"Nested `### BEGIN {label}` at {_where(cell_id, index, line_no)}; "
                    f"the region opened on line {begun_at} is not closed."
                )
            begun_at, removed = line_no, True
        elif end.search(line):
            if not begun_at:
                raise MarkerError(
                    f"`### END {label}` without a matching `### BEGIN {label}` at "
                    f"{_where(cell_id, index, line_no)}."
                )
            begun_at = 0
        elif not begun_at:
            out.append(line)
    if begun_at:
        raise MarkerError(
            f"`### BEGIN {label}` at {_where(cell_id, index, begun_at)} has no matching "
            f"`### END {label}`."
        )
    return "\n".join(out), removed


def remove_hidden_tests(source: str, *, cell_id: str = "", index: int = 0) -> tuple[str, bool]:
    """Drop BEGIN/END HIDDEN TESTS regions; returns the source and whether any was found."""
    return remove_regions(source, _BEGIN_HIDDEN, _END_HIDDEN, "HIDDEN TESTS",
                          cell_id=cell_id, index=index)


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
    source, replaced = replace_solution_regions(source, stub, cell_id=cell_id, index=index)
    source, hidden = remove_hidden_tests(source, cell_id=cell_id, index=index)
    source, _ = remove_regions(source, _BEGIN_MARK_SCHEME, _END_MARK_SCHEME, "MARK SCHEME",
                                    cell_id=cell_id, index=index)
    solution = is_solution_cell(cell)
    if solution and not replaced:
        # nbgrader: a solution cell without markers is all answer.
        source = stub
        cell.pop("attachments", None)  # a pasted image may be the answer
    cell.source = source
    if cell.cell_type == "code" and (solution or is_grade_cell(cell) or replaced or hidden):
        # An output can show the answer or the result of a hidden check.
        cell.outputs = []
        cell.execution_count = None
    nbgrader = cell.metadata.get("nbgrader")
    if isinstance(nbgrader, dict):
        nbgrader.pop("checksum", None)  # MD5 of the instructor's cell: a guessable oracle
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


def _points(cell: Mapping[str, Any], grade_id: str) -> float:
    points = _nbgrader(cell).get("points")
    if isinstance(points, bool) or not isinstance(points, int | float) or points < 0:
        raise InvalidInputError(
            f"Check `{grade_id}` needs `points`, a number ≥ 0 (got {points!r}).",
            errors={"notebook": [f"{grade_id}: invalid points {points!r}"]},
        )
    return float(points)


def list_checks(nb: Mapping[str, Any]) -> list[Check]:
    """List the graded cells of an exercise, in notebook order.

    Validates what grading relies on: each graded cell has a `grade_id`, unique
    in the notebook, and non-negative `points`.
    """
    checks: list[Check] = []
    seen: set[str] = set()
    for index, cell in enumerate(nb.get("cells", [])):
        if not is_grade_cell(cell):
            continue
        meta = _nbgrader(cell)
        grade_id = meta.get("grade_id")
        if not isinstance(grade_id, str) or not grade_id:
            detail = f"Graded cell #{index + 1} has no `grade_id` in metadata.nbgrader."
            raise InvalidInputError(detail, errors={"notebook": [detail]})
        if grade_id in seen:
            detail = f"The grade_id `{grade_id}` is used by more than one cell."
            raise InvalidInputError(detail, errors={"notebook": [detail]})
        seen.add(grade_id)
        source = str(cell.get("source", ""))
        checks.append(Check(
            grade_id=grade_id,
            points=_points(cell, grade_id),
            cell_id=str(cell.get("id", "")),
            cell_type=str(cell.get("cell_type", "")),
            has_hidden_tests=any(_BEGIN_HIDDEN.search(line) for line in source.split("\n")),
            manual=bool(meta.get("task")) or is_solution_cell(cell)
            or cell.get("cell_type") != "code",
        ))
    return checks


def list_solution_cells(nb: Mapping[str, Any]) -> list[SolutionCell]:
    """List the cells a student answers in, in notebook order (for matching a submission)."""
    return [
        SolutionCell(
            cell_id=str(cell.get("id", "")),
            cell_type=str(cell.get("cell_type", "")),
            grade_id=_nbgrader(cell).get("grade_id") or None,
        )
        for cell in nb.get("cells", [])
        if is_solution_cell(cell)
    ]


def total_points(checks: Iterable[Check]) -> float:
    """Sum of the points of `checks` (the exercise's maximum score)."""
    return float(sum(check.points for check in checks))

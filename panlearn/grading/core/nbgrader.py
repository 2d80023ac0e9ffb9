"""nbgrader's notebook contract, in one place: cell kinds, region markers, points.

Every part of panlearn that asks "is this a check cell?", "where do hidden
tests begin?" or "are these points valid?" asks this module: the grader
(`grading/core/spec.py`), the student version (`notebooks/student.py`) and the
course loader (`authoring/folder.py`). Three copies of these rules once
disagreed, and hidden tests reached students' feedback through the gap.

The semantics are nbgrader's own (`nbgrader/preprocessors`, `nbgrader/utils.py`),
so nbgrader assignments import as they are:

- cell kinds come from ``metadata.nbgrader``: ``grade`` + not ``solution`` on a
  code cell is an autograder test (a *check*); ``solution`` is a cell the
  student writes; ``grade`` + ``solution`` is a manually graded answer; ``task``
  a manually graded task;
- a region delimiter is recognised **anywhere in a line**, as nbgrader's
  ``ClearSolutions`` and ``ClearHiddenTests`` do (``# BEGIN HIDDEN TESTS`` and
  ``## BEGIN HIDDEN TESTS`` hide as ``### BEGIN HIDDEN TESTS`` does); we also
  accept any case and any run of spaces, so a near-miss hides instead of
  publishing; the whole marker line goes;
- ``points`` is required on graded cells and is a number ≥ 0; ``grade_id`` is
  required on graded and solution cells, letters, digits, ``_`` and ``-``,
  unique in the notebook.

Where nbgrader would silently leak, we are stricter: an unclosed region, a
nested BEGIN or an END without its BEGIN is an error naming cell and line,
since it usually means a mistyped marker left an answer in plain sight.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from panlearn.errors import InvalidInputError

#: nbgrader's default code stub (``ClearSolutions.code_stub`` for Python).
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
#: nbgrader's default text stub (``ClearSolutions.text_stub``).
TEXT_STUB = "YOUR ANSWER HERE"

BEGIN_SOLUTION = re.compile(r"BEGIN\s+SOLUTION", re.IGNORECASE)
END_SOLUTION = re.compile(r"END\s+SOLUTION", re.IGNORECASE)
BEGIN_HIDDEN_TESTS = re.compile(r"BEGIN\s+HIDDEN\s+TESTS", re.IGNORECASE)
END_HIDDEN_TESTS = re.compile(r"END\s+HIDDEN\s+TESTS", re.IGNORECASE)
BEGIN_MARK_SCHEME = re.compile(r"BEGIN\s+MARK\s+SCHEME", re.IGNORECASE)
END_MARK_SCHEME = re.compile(r"END\s+MARK\s+SCHEME", re.IGNORECASE)

#: nbgrader's ``grade_id`` pattern (we also refuse the empty id).
GRADE_ID_PATTERN = re.compile(r"^[A-Za-z0-9_\-]+$")


class MarkerError(InvalidInputError):
    """A solution, hidden-test or mark-scheme region is malformed (unclosed, nested, stray END)."""


class NbgraderError(InvalidInputError):
    """A cell's nbgrader metadata breaks the contract (grade id, points)."""


def meta(cell: Mapping[str, Any]) -> Mapping[str, Any]:
    """The cell's ``metadata.nbgrader`` mapping (empty when absent or malformed)."""
    value = cell.get("metadata", {}).get("nbgrader", {})
    return value if isinstance(value, Mapping) else {}


def is_solution_cell(cell: Mapping[str, Any]) -> bool:
    """``solution: true``: the student writes this cell."""
    return bool(meta(cell).get("solution"))


def is_graded_cell(cell: Mapping[str, Any]) -> bool:
    """``grade: true`` or a ``task``: the cell earns points (automatically or by a person)."""
    m = meta(cell)
    return bool(m.get("grade") or m.get("task"))


def is_check_cell(cell: Mapping[str, Any]) -> bool:
    """An autograder test: ``grade: true``, not a solution, a code cell."""
    m = meta(cell)
    return bool(m.get("grade")) and not m.get("solution") and cell.get("cell_type") == "code"


def is_manually_graded(cell: Mapping[str, Any]) -> bool:
    """A graded cell a person marks: a graded answer, a task, or graded markdown."""
    m = meta(cell)
    return bool(m.get("task")) or (is_graded_cell(cell) and (
        bool(m.get("solution")) or cell.get("cell_type") != "code"))


def cell_key(cell: Mapping[str, Any]) -> str | None:
    """A cell's stable identity: its ``grade_id``, else its nbformat id."""
    gid = meta(cell).get("grade_id")
    return str(gid) if gid else cell.get("id")


def has_region(source: str, begin: re.Pattern[str]) -> bool:
    """Whether any line of ``source`` opens a region with ``begin``."""
    return any(begin.search(line) for line in source.split("\n"))


def has_answer_markers(nb: Mapping[str, Any]) -> bool:
    """Whether any cell holds a solution, hidden-test or mark-scheme marker."""
    return any(
        has_region(str(cell.get("source", "")), begin)
        for cell in nb.get("cells", [])
        for begin in (BEGIN_SOLUTION, BEGIN_HIDDEN_TESTS, BEGIN_MARK_SCHEME)
    )


def writes_answers(cell: Mapping[str, Any]) -> bool:
    """A cell the student edits: a solution cell, or one holding a solution region."""
    return is_solution_cell(cell) or has_region(str(cell.get("source", "")), BEGIN_SOLUTION)


def _where(cell_id: str, index: int, line_no: int) -> str:
    return f"cell {cell_id or index} (cell #{index + 1}), line {line_no}"


def _regions(source: str, begin: re.Pattern[str], end: re.Pattern[str], label: str,
             cell_id: str, index: int) -> list[tuple[int, int, str]]:
    """(first line, last line, indent of the BEGIN line) of each region, 0-based lines."""
    found: list[tuple[int, int, str]] = []
    opened: tuple[int, str] | None = None
    for line_no, line in enumerate(source.split("\n")):
        if begin.search(line):
            if opened is not None:
                raise MarkerError(
                    f"Nested `### BEGIN {label}` at {_where(cell_id, index, line_no + 1)}; "
                    f"the region opened on line {opened[0] + 1} is not closed.")
            opened = (line_no, re.match(r"\s*", line).group(0))  # type: ignore[union-attr]
        elif end.search(line):
            if opened is None:
                raise MarkerError(
                    f"`### END {label}` without a matching `### BEGIN {label}` at "
                    f"{_where(cell_id, index, line_no + 1)}; check the BEGIN marker's spelling.")
            found.append((opened[0], line_no, opened[1]))
            opened = None
    if opened is not None:
        raise MarkerError(f"`### BEGIN {label}` at {_where(cell_id, index, opened[0] + 1)} has "
                          f"no matching `### END {label}`.")
    return found


def _replace_regions(source: str, begin: re.Pattern[str], end: re.Pattern[str], label: str,
                     stub: str | None, cell_id: str, index: int) -> tuple[str, bool]:
    lines = source.split("\n")
    regions = _regions(source, begin, end, label, cell_id, index)
    for first, last, indent in reversed(regions):
        lines[first:last + 1] = [] if stub is None else [indent + s for s in stub.split("\n")]
    return "\n".join(lines), bool(regions)


def replace_solutions(source: str, stub: str, *, cell_id: str = "", index: int = 0
                      ) -> tuple[str, bool]:
    """Replace each BEGIN/END SOLUTION region by ``stub``, indented like its BEGIN line.

    Returns the new source and whether a region was found; raises `MarkerError`.
    """
    return _replace_regions(source, BEGIN_SOLUTION, END_SOLUTION, "SOLUTION", stub,
                            cell_id, index)


def strip_hidden_tests(source: str, *, cell_id: str = "", index: int = 0) -> tuple[str, bool]:
    """Drop each BEGIN/END HIDDEN TESTS region, markers included; and whether one was found."""
    return _replace_regions(source, BEGIN_HIDDEN_TESTS, END_HIDDEN_TESTS, "HIDDEN TESTS", None,
                            cell_id, index)


def strip_mark_schemes(source: str, *, cell_id: str = "", index: int = 0) -> tuple[str, bool]:
    """Drop each BEGIN/END MARK SCHEME region, markers included; and whether one was found."""
    return _replace_regions(source, BEGIN_MARK_SCHEME, END_MARK_SCHEME, "MARK SCHEME", None,
                            cell_id, index)


def visible_source(source: str, *, cell_id: str = "", index: int = 0) -> str:
    """What a student may see of a check cell: hidden tests and mark schemes removed."""
    text, _ = strip_hidden_tests(source, cell_id=cell_id, index=index)
    text, _ = strip_mark_schemes(text, cell_id=cell_id, index=index)
    return text


def points_of(cell: Mapping[str, Any], *, index: int = 0) -> float:
    """A graded cell's ``points``: a number ≥ 0 (nbgrader's rule), else `NbgraderError`."""
    points = meta(cell).get("points")
    if isinstance(points, bool) or not isinstance(points, int | float) or not points >= 0:
        gid = meta(cell).get("grade_id") or cell.get("id") or f"#{index + 1}"
        raise NbgraderError(
            f"cell {index} ({gid!r}): points must be a number ≥ 0, got {points!r}",
            errors={f"cells[{index}].metadata.nbgrader.points": [repr(points)]})
    return float(points)


@dataclass(frozen=True)
class GradedCell:
    """One graded cell (a check, a graded answer or a task), as nbgrader defines it."""

    grade_id: str
    index: int
    cell_id: str
    cell_type: str
    points: float
    source: str
    #: The source a student sees: hidden tests and mark schemes removed.
    visible_source: str
    #: True for cells a person marks (graded answers, tasks, graded markdown).
    manual: bool

    @property
    def has_hidden_tests(self) -> bool:
        """Whether part of this cell exists only in the author's notebook."""
        return has_region(self.source, BEGIN_HIDDEN_TESTS)


@dataclass(frozen=True)
class SolutionCell:
    """A cell the student answers in."""

    index: int
    cell_id: str
    cell_type: str
    grade_id: str | None


@dataclass(frozen=True)
class Contract:
    """An exercise notebook's nbgrader contract, and every problem with it."""

    graded: tuple[GradedCell, ...]
    solutions: tuple[SolutionCell, ...]
    #: (field, message) for each problem, all at once, in notebook order.
    problems: tuple[tuple[str, str], ...]

    @property
    def checks(self) -> tuple[GradedCell, ...]:
        """The autograder tests: graded cells the platform scores."""
        return tuple(c for c in self.graded if not c.manual)

    @property
    def max_score(self) -> float:
        """Sum of the checks' points."""
        return float(sum(c.points for c in self.checks))

    def raise_first(self) -> None:
        """Raise an `NbgraderError` carrying every problem, if there is any."""
        if self.problems:
            field, message = self.problems[0]
            errors: dict[str, list[str]] = {}
            for name, text in self.problems:
                errors.setdefault(name, []).append(text)
            raise NbgraderError(message if len(self.problems) == 1 else
                                f"{message} (and {len(self.problems) - 1} more problems)",
                                errors=errors)


def read_contract(nb: Mapping[str, Any]) -> Contract:
    """Read the graded and solution cells of a notebook, collecting every problem."""
    graded: list[GradedCell] = []
    solutions: list[SolutionCell] = []
    problems: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    for index, cell in enumerate(nb.get("cells", [])):
        m = meta(cell)
        field = f"cells[{index}].metadata.nbgrader"
        gid = m.get("grade_id")
        cell_id = str(cell.get("id", "") or "")
        if gid is not None and (not isinstance(gid, str) or not GRADE_ID_PATTERN.match(gid)):
            problems.append((field, f"cell {index}: grade_id must be letters, digits, '_' or "
                                    f"'-', got {gid!r}"))
            continue
        if gid:
            if gid in seen:
                problems.append((field, f"cell {index}: grade_id {gid!r} is already used by "
                                        f"cell {seen[gid]}"))
                continue
            seen[gid] = index
        if is_solution_cell(cell):
            if not gid and not cell_id:
                problems.append((field, f"cell {index}: a solution cell needs a grade_id or "
                                        "a cell id"))
            solutions.append(SolutionCell(index=index, cell_id=cell_id,
                                          cell_type=str(cell.get("cell_type", "")),
                                          grade_id=gid or None))
        if not is_graded_cell(cell):
            continue
        if not gid:
            problems.append((field, f"cell {index}: a graded cell needs a grade_id"))
            continue
        source = str(cell.get("source", ""))
        try:
            points = points_of(cell, index=index)
            shown = visible_source(source, cell_id=cell_id, index=index)
        except (NbgraderError, MarkerError) as error:
            problems.append((field, error.detail))
            continue
        graded.append(GradedCell(grade_id=gid, index=index, cell_id=cell_id,
                                 cell_type=str(cell.get("cell_type", "")), points=points,
                                 source=source, visible_source=shown,
                                 manual=is_manually_graded(cell)))
    return Contract(graded=tuple(graded), solutions=tuple(solutions), problems=tuple(problems))


def answer_cells(nb: Mapping[str, Any]) -> Iterable[tuple[int, Mapping[str, Any]]]:
    """(index, cell) of each code cell the student edits, in notebook order."""
    for index, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") == "code" and writes_answers(cell):
            yield index, cell

"""The exercise spec: what an author's notebook declares for grading.

The contract is nbgrader's cell metadata (read by `grading.core.nbgrader`, the one
module that defines it) plus papermill's ``parameters`` tag and
``metadata.panlearn.datasets``, so nbgrader assignments import as they are.
The spec is computed once from the source notebook and is plain data.

Who wrote each value a check reads decides where the check takes it from:

- **answers**: names that a cell the student writes (a solution cell, or a
  cell with a solution region) assigns before the check, and names later
  author cells derive from them. These come from the student's kernel.
- **context**: every other name (the data the author's cells load, constants,
  helper values). These come from the trusted run of the author's notebook on
  the same files (the reference run), never from the student's kernel, so an
  answer cell that rebinds ``two_theta`` changes nothing the check sees.
- ``reference.<name>``: the reference run's value of a name, explicitly.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from nbformat import NotebookNode

from panlearn.grading.core import nbgrader
from panlearn.grading.core.nbgrader import cell_key, is_check_cell

from .errors import ExerciseSpecError
from .names import assigned_names, bound_by, free_names, python_source, top_level_bound

PARAMETERS_TAG = "parameters"
#: The name through which a check reads what the reference solution computes on the same
#: data: ``reference.distance_m`` is the value of ``distance_m`` in the author's notebook
#: at this check's place, run on the student's own (assigned) files.
REFERENCE_NAME = "reference"
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
_BUILTINS = frozenset(dir(builtins))


@dataclass(frozen=True)
class CheckSpec:
    """One auto-graded check cell of the source notebook."""

    grade_id: str
    cell_id: str | None
    cell_index: int
    points: float
    #: Full source, hidden tests included; never shown to students.
    source: str
    #: Source as the student version shows it (hidden tests removed).
    visible_source: str
    #: Names the check reads from the student's kernel: what their cells assign.
    answer_names: tuple[str, ...]
    #: False when the check must run in the student's kernel (calls their functions).
    tamper_proof: bool
    name: str
    visibility: str = "visible"
    #: Names the check reads from the reference solution's run (``reference.<name>``).
    reference_names: tuple[str, ...] = ()
    #: Names the check reads that the author's own cells define: taken from the reference run.
    context_names: tuple[str, ...] = ()

    @property
    def has_hidden_tests(self) -> bool:
        """Whether part of this check exists only in the source notebook."""
        return self.source != self.visible_source

    @property
    def free_names(self) -> tuple[str, ...]:
        """Every name the check reads that the notebook must provide (answers and context)."""
        return tuple(sorted({*self.answer_names, *self.context_names}))

    @property
    def trusted_names(self) -> tuple[str, ...]:
        """Names whose values come from the reference run: context, then ``reference.*``."""
        if not self.tamper_proof:
            return ()
        return tuple(dict.fromkeys((*self.context_names, *self.reference_names)))


@dataclass(frozen=True)
class ExerciseSpec:
    """Everything grading needs to know about an exercise, as plain data."""

    checks: tuple[CheckSpec, ...]
    #: Ids (grade_id, else cell id) of the cells that hold the student's answers.
    solution_ids: tuple[str, ...]
    parameter_names: tuple[str, ...]
    parameters_cell_index: int | None
    datasets: tuple[Any, ...]
    #: The source notebook's import statements, replayed in the clean check kernel.
    import_code: str

    @property
    def max_score(self) -> float:
        """Sum of the points of all checks."""
        return float(sum(c.points for c in self.checks))

    @property
    def reference_names(self) -> tuple[str, ...]:
        """Every name any check reads through ``reference``, sorted."""
        return tuple(sorted({n for c in self.checks for n in c.reference_names}))

    @property
    def needs_reference(self) -> bool:
        """Whether grading needs the reference run's values (context or ``reference.*``)."""
        return any(c.trusted_names for c in self.checks)

    def describe_names(self) -> list[str]:
        """One line per check: which names are answers, which are context (for authors)."""
        lines = []
        for c in self.checks:
            where = "isolated" if c.tamper_proof else "in the student's kernel (not tamper-proof)"
            parts = [f"answers: {', '.join(c.answer_names) or '—'}"]
            if c.tamper_proof:
                parts.append(f"context: {', '.join(c.context_names) or '—'}")
            if c.reference_names:
                parts.append("reference: " + ", ".join(c.reference_names))
            lines.append(f"{c.grade_id} ({where}): " + "; ".join(parts))
        return lines

    def check(self, grade_id: str) -> CheckSpec:
        """Return the check with this grade id."""
        for c in self.checks:
            if c.grade_id == grade_id:
                return c
        raise KeyError(grade_id)

    def with_checks_in_kernel(self, grade_ids: Iterable[str]) -> ExerciseSpec:
        """Return a copy where these checks run in the student's kernel (not tamper-proof).

        Raises `ExerciseSpecError` for a check that reads the reference: its
        expected values must never enter the student's kernel.
        """
        ids = set(grade_ids)
        for c in self.checks:
            if c.grade_id in ids and c.reference_names:
                raise ExerciseSpecError(
                    f"check {c.grade_id!r} reads the reference solution's values "
                    f"(reference.{c.reference_names[0]}) but would have to run in the "
                    "student's kernel (it reads a value that is not plain data, or is marked "
                    "in_kernel), where the student's code could see them: make it read plain "
                    "values only",
                    errors={"grade_id": c.grade_id, "reference": True},
                )
        checks = tuple(
            dataclasses.replace(c, tamper_proof=False) if c.grade_id in ids else c
            for c in self.checks
        )
        return dataclasses.replace(self, checks=checks)

    def to_dict(self) -> dict[str, Any]:
        """Serialise to JSON-compatible data (to store beside the exercise)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExerciseSpec:
        """Inverse of :meth:`to_dict`."""
        checks = tuple(
            CheckSpec(**{**c, "answer_names": tuple(c["answer_names"]),
                         "context_names": tuple(c.get("context_names", ())),
                         "reference_names": tuple(c.get("reference_names", ()))})
            for c in data["checks"]
        )
        return cls(
            checks=checks,
            solution_ids=tuple(data["solution_ids"]),
            parameter_names=tuple(data["parameter_names"]),
            parameters_cell_index=data["parameters_cell_index"],
            datasets=tuple(data["datasets"]),
            import_code=data["import_code"],
        )


def strip_hidden_tests(source: str) -> str:
    """What a student may see of a check's source (see `grading.core.nbgrader.visible_source`)."""
    return nbgrader.visible_source(source)


def is_parameters_cell(cell: Mapping[str, Any]) -> bool:
    """Whether the cell carries papermill's ``parameters`` tag."""
    return PARAMETERS_TAG in cell.get("metadata", {}).get("tags", [])


def _describe(index: int, cell: Mapping[str, Any]) -> str:
    key = cell_key(cell)
    return f"cell {index}" + (f" ({key!r})" if key else "")


def load_exercise_spec(nb: NotebookNode) -> ExerciseSpec:
    """Read and validate the grading contract of an author's notebook.

    Raises `ExerciseSpecError` naming the offending cell when the nbgrader
    contract is broken (grade ids, points, region markers), a check cell does
    not parse, ``reference`` is misused, or datasets are named without a
    ``parameters`` cell.
    """
    cells = nb.get("cells", [])
    contract = nbgrader.read_contract(nb)
    if contract.problems:
        field, message = contract.problems[0]
        raise ExerciseSpecError(message, errors={field: [m for _, m in contract.problems]})
    params_index: int | None = None
    param_names: tuple[str, ...] = ()
    for index, cell in enumerate(cells):
        if is_parameters_cell(cell):
            if params_index is not None:
                raise ExerciseSpecError(
                    f"cell {index}: a second cell tagged 'parameters' "
                    f"(first is cell {params_index})",
                    errors={"cell": index},
                )
            params_index = index
            param_names = tuple(assigned_names(_parse(cell, index)))
    datasets = nb.get("metadata", {}).get("panlearn", {}).get("datasets", [])
    if datasets and params_index is None:
        raise ExerciseSpecError(
            "the notebook names datasets (metadata.panlearn.datasets) but no cell is tagged "
            "'parameters' to receive their file paths",
            errors={"metadata": "panlearn.datasets"},
        )

    notebook = _NotebookNames()
    checks: list[CheckSpec] = []
    graded = {c.index: c for c in contract.checks}
    for index, cell in enumerate(cells):
        if cell.get("cell_type") != "code":
            continue
        if index not in graded:
            if not is_check_cell(cell):
                notebook.add_cell(cell, index)
            continue
        checks.append(_check_spec(cell, index, graded[index], notebook, set(param_names)))
        notebook.bound_by_checks |= top_level_bound(_parse(cell, index))
    if not checks:
        raise ExerciseSpecError("the notebook has no check cell (metadata.nbgrader.grade: true)")
    if not sum(c.points for c in checks) > 0:
        raise ExerciseSpecError("the checks' points add up to 0: give at least one check points",
                                errors={"points": 0})
    return ExerciseSpec(
        checks=tuple(checks),
        solution_ids=tuple(s.grade_id or s.cell_id for s in contract.solutions),
        parameter_names=param_names,
        parameters_cell_index=params_index,
        datasets=tuple(datasets),
        import_code="\n".join(notebook.imports),
    )


class _NotebookNames:
    """What the non-check code cells above a point define, in notebook order.

    Tracks which names hold the student's answers: a name a cell the student
    writes assigns is an answer; so is a name a later author cell computes
    from an answer (``d = wavelength / (2 * np.sin(peak))`` after the student
    set ``peak``); a name an author cell rebinds without reading any answer is
    context again.
    """

    def __init__(self) -> None:
        self.answers: set[str] = set()
        self.assigned_at: dict[str, int] = {}
        self.callables: set[str] = set()
        self.imports: list[str] = []
        self.bound_by_imports: set[str] = set()
        self.bound_by_checks: set[str] = set()

    def add_cell(self, cell: Mapping[str, Any], index: int) -> None:
        tree = _parse(cell, index)
        bound = top_level_bound(tree)
        for name in bound:
            self.assigned_at.setdefault(name, index)
        if nbgrader.writes_answers(cell):
            self.answers |= bound
        else:  # statement by statement: `label = 'ok'` beside `d = f(peak)` stays context
            for node in tree.body:
                statement = ast.Module(body=[node], type_ignores=[])
                if free_names(ast.unparse(statement), statement) & self.answers:
                    self.answers |= bound_by(node)
                else:
                    self.answers -= bound_by(node)
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                self.callables.add(node.name)
            elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda):
                self.callables.update(assigned_names(ast.Module(body=[node], type_ignores=[])))
            elif isinstance(node, ast.Import | ast.ImportFrom):
                if not (isinstance(node, ast.ImportFrom) and node.module == "__future__"):
                    self.imports.append(ast.unparse(node))
                    self.bound_by_imports.update(bound_by(node))


def _check_spec(cell: Mapping[str, Any], index: int, graded: nbgrader.GradedCell,
                notebook: _NotebookNames, parameters: set[str]) -> CheckSpec:
    gid = graded.grade_id
    panlearn_meta = cell.get("metadata", {}).get("panlearn", {})
    visibility = panlearn_meta.get("visibility", "visible")
    if visibility not in VISIBILITIES:
        raise ExerciseSpecError(
            f"cell {index} ({gid!r}): visibility must be one of {', '.join(VISIBILITIES)}",
            errors={"cell": index, "grade_id": gid},
        )
    source = cell.get("source", "")
    code = python_source(source)
    tree = _parse(cell, index)
    names = (free_names(code, tree) - _BUILTINS - notebook.bound_by_checks
             - notebook.bound_by_imports - parameters)
    reference_names = _reference_names(tree, index, gid)
    if reference_names:
        names.discard(REFERENCE_NAME)
        if REFERENCE_NAME in notebook.assigned_at or REFERENCE_NAME in notebook.bound_by_checks:
            raise ExerciseSpecError(
                f"cell {index} ({gid!r}): the notebook assigns {REFERENCE_NAME!r} itself; "
                f"that name is the platform's (reference.<name>): rename the variable",
                errors={"cell": index, "grade_id": gid, "reference": True},
            )
        late = [n for n in reference_names if notebook.assigned_at.get(n, index) >= index]
        if late:
            raise ExerciseSpecError(
                f"cell {index} ({gid!r}): reference.{late[0]}: no cell above this check "
                f"assigns {late[0]!r}, so the reference solution has no such answer here",
                errors={"cell": index, "grade_id": gid, "reference": True},
            )
    tamper_proof = (
        code == source and not (names & notebook.callables)
        and not panlearn_meta.get("in_kernel", False)
    )
    if reference_names and not tamper_proof:
        raise ExerciseSpecError(
            f"cell {index} ({gid!r}): the check reads the reference solution's values "
            f"(reference.{reference_names[0]}) but would run in the student's kernel ("
            + ("it is marked in_kernel" if panlearn_meta.get("in_kernel", False)
               else "it uses IPython syntax" if code != source
               else f"it calls {sorted(names & notebook.callables)[0]!r}, defined in the notebook")
            + "), where the student's code could read them; a check that uses the "
            "reference must read plain values only",
            errors={"cell": index, "grade_id": gid, "reference": True},
        )
    answers = names & notebook.answers
    return CheckSpec(
        grade_id=gid,
        cell_id=cell.get("id"),
        cell_index=index,
        points=graded.points,
        source=source,
        visible_source=graded.visible_source,
        answer_names=tuple(sorted(answers)),
        context_names=tuple(sorted(names - answers)),
        tamper_proof=tamper_proof,
        name=str(panlearn_meta.get("name") or gid),
        visibility=visibility,
        reference_names=reference_names,
    )


def _reference_names(tree: ast.Module, index: int, gid: str) -> tuple[str, ...]:
    """The names a check reads as ``reference.<name>``; any other use of it is refused."""
    attributes: set[int] = set()
    names: list[str] = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id == REFERENCE_NAME and isinstance(node.ctx, ast.Load)):
            attributes.add(id(node.value))
            if node.attr not in names:
                names.append(node.attr)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == REFERENCE_NAME and id(node) not in attributes:
            raise ExerciseSpecError(
                f"cell {index} ({gid!r}): use the reference solution's values as "
                f"`{REFERENCE_NAME}.<name>` (a name the reference solution assigns); "
                f"{REFERENCE_NAME!r} cannot be used otherwise in a check",
                errors={"cell": index, "grade_id": gid, "reference": True},
            )
    return tuple(sorted(names))


def _parse(cell: Mapping[str, Any], index: int) -> ast.Module:
    try:
        return ast.parse(python_source(cell.get("source", "")))
    except SyntaxError as exc:
        raise ExerciseSpecError(
            f"{_describe(index, cell)}: does not parse as Python ({exc.msg}, line {exc.lineno})",
            errors={"cell": index},
        ) from exc


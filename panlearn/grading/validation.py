"""Import-time validation of an exercise: its reference solution must score full marks.

The author's notebook is graded by the very pipeline students go through, on
the real data it names, on every file a parameter may be given (every
combination of `choices`). That proves the checks, the data and the
parameters fit together before any student sees the exercise, decides from
the trusted reference which checks must run in the student's kernel, and
yields the reference answers on each file choice for checks that read
``reference.<name>``, stored at import so that no student pays for them.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from panlearn.datasets.resolve import (
    all_assignments,
    papermill_parameters,
    resolve_exercise_datasets,
)
from panlearn.datasets.settings import DatasetsContext
from panlearn.grading.core.errors import ExerciseSpecError
from panlearn.grading.core.settings import GradingSettings
from panlearn.grading.reference import ExerciseValidation, checksums_of, job_files

if TYPE_CHECKING:
    from panlearn.grading.core.pool import KernelPool

# The grading core (papermill, numpy) is imported when an exercise is validated, not
# with this module: the import services and commands that name it must start quickly.

#: Takes the source notebook and its dataset references; returns what validation learnt.
Validator = Callable[[Any, list[dict[str, Any]]], ExerciseValidation]


def validate_exercise(notebook: Any, datasets: list[dict[str, Any]], *,
                      settings: GradingSettings, data: DatasetsContext,
                      pool: KernelPool | None = None) -> ExerciseValidation:
    """Grade the reference solution on every choice of files; full marks on each.

    Returns the checks that must run in-kernel and, when checks read the
    reference, its answers on each choice. Raises `ExerciseSpecError` naming
    each check that does not pass (and the files, when there are choices).
    """
    from panlearn.grading.core.pool import KernelPool

    assignments = all_assignments(datasets)
    result = ExerciseValidation()
    in_kernel: set[str] = set()
    own = pool is None  # one launcher (zygotes) for every choice of files
    active = pool if pool is not None else KernelPool(settings, size=0)
    try:
        for assignment in assignments:
            _validate_on(notebook, datasets, assignment, len(assignments), settings=settings,
                         data=data, pool=active, result=result, in_kernel=in_kernel)
    finally:
        if own:
            active.close()
    result.in_kernel_checks = sorted(in_kernel)
    return result


def _validate_on(notebook: Any, datasets: list[dict[str, Any]], assignment: Any, choices: int,
                 *, settings: GradingSettings, data: DatasetsContext, pool: KernelPool,
                 result: ExerciseValidation, in_kernel: set[str]) -> None:
    """Grade the reference solution on one choice of files, adding what it learnt to ``result``."""
    from panlearn.grading.core.answers import encode_answers
    from panlearn.grading.core.pipeline import validate_reference_solution

    resolved = resolve_exercise_datasets(datasets, registry=data.registry,
                                         cache=data.file_cache, assignment=assignment)
    try:
        spec, outcome = validate_reference_solution(
            notebook, parameters=papermill_parameters(resolved),
            data_files=job_files(resolved), settings=settings, pool=pool)
    except ExerciseSpecError as error:
        if choices == 1:
            raise
        files = ", ".join(f"{item.parameter}={item.file}" for item in resolved)
        raise ExerciseSpecError(f"on {files}: {error.detail}",
                                errors=error.errors) from error
    in_kernel |= {check.grade_id for check in spec.checks if not check.tamper_proof}
    if spec.needs_reference:
        result.reference_answers.append(
            (checksums_of(resolved, spec), encode_answers(outcome.reference_answers)))


def in_process_validator(settings: GradingSettings, data: DatasetsContext) -> Validator:
    """Validation in this process, one sandbox pool (its zygotes) for every exercise.

    The pool is closed when the validator is dropped.
    """
    from panlearn.grading.core.pool import KernelPool

    pool = KernelPool(settings, size=0)

    def validate(notebook: Any, datasets: list[dict[str, Any]]) -> ExerciseValidation:
        return validate_exercise(notebook, datasets, settings=settings, data=data, pool=pool)

    weakref.finalize(validate, pool.close)
    return validate

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

import multiprocessing
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

from panlearn.datasets.resolve import (
    all_assignments,
    papermill_parameters,
    resolve_exercise_datasets,
)
from panlearn.datasets.settings import DatasetsContext
from panlearn.grading.answers import encode_answers
from panlearn.grading.errors import ExerciseSpecError
from panlearn.grading.pipeline import validate_reference_solution
from panlearn.grading.pool import KernelPool
from panlearn.grading.reference import ExerciseValidation, checksums_of, job_files
from panlearn.grading.settings import GradingSettings

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
    """For the CLI: the command's own process may run papermill."""
    def validate(notebook: Any, datasets: list[dict[str, Any]]) -> ExerciseValidation:
        return validate_exercise(notebook, datasets, settings=settings, data=data)

    return validate


def _validate_in_child(values: Mapping[str, Any], notebook: dict[str, Any],
                       datasets: list[dict[str, Any]]
                       ) -> tuple[ExerciseValidation | None, str | None]:
    from panlearn.datasets.settings import DatasetsConfig
    from panlearn.grading.runtime import grading_settings

    data = DatasetsContext(DatasetsConfig.from_settings(values))
    try:
        return validate_exercise(notebook, datasets, settings=grading_settings(values),
                                 data=data), None
    except ExerciseSpecError as error:
        return None, error.detail


@contextmanager
def subprocess_validator(values: Mapping[str, Any]) -> Iterator[Validator]:
    """For web requests: papermill changes the working directory, so it runs elsewhere.

    One spawned process serves every exercise of an import, so an archive of
    several exercises pays the interpreter start-up once.
    """
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as executor:

        def validate(notebook: Any, datasets: list[dict[str, Any]]) -> ExerciseValidation:
            result, error = executor.submit(_validate_in_child, dict(values), dict(notebook),
                                            list(datasets)).result()
            if error is not None:
                raise ExerciseSpecError(error)
            return result or ExerciseValidation()

        yield validate

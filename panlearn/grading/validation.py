"""Import-time validation of an exercise: its reference solution must score full marks.

The author's notebook is graded by the very pipeline students go through, on
the real data it names. That proves the checks, the data and the parameters
fit together before any student sees the exercise, and it decides from the
trusted reference which checks must run in the student's kernel.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

from panlearn.datasets.resolve import papermill_parameters, resolve_exercise_datasets
from panlearn.datasets.settings import DatasetsContext
from panlearn.grading.errors import ExerciseSpecError
from panlearn.grading.pipeline import validate_reference_solution
from panlearn.grading.settings import GradingSettings

#: Takes the source notebook and its dataset references; returns the in-kernel check ids.
Validator = Callable[[Any, list[dict[str, Any]]], list[str]]


def validate_exercise(notebook: Any, datasets: list[dict[str, Any]], *,
                      settings: GradingSettings, data: DatasetsContext) -> list[str]:
    """Grade the reference solution; the ids of checks that must run in-kernel.

    Raises `ExerciseSpecError` naming each check that does not pass.
    """
    resolved = resolve_exercise_datasets(datasets, registry=data.registry, cache=data.file_cache)
    spec, _ = validate_reference_solution(
        notebook, parameters=papermill_parameters(resolved),
        data_files=[item.path for item in resolved], settings=settings)
    return [check.grade_id for check in spec.checks if not check.tamper_proof]


def in_process_validator(settings: GradingSettings, data: DatasetsContext) -> Validator:
    """For the CLI: the command's own process may run papermill."""
    def validate(notebook: Any, datasets: list[dict[str, Any]]) -> list[str]:
        return validate_exercise(notebook, datasets, settings=settings, data=data)

    return validate


def _validate_in_child(values: Mapping[str, Any], notebook: dict[str, Any],
                       datasets: list[dict[str, Any]]) -> tuple[list[str] | None, str | None]:
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

        def validate(notebook: Any, datasets: list[dict[str, Any]]) -> list[str]:
            ids, error = executor.submit(_validate_in_child, dict(values), dict(notebook),
                                         list(datasets)).result()
            if error is not None:
                raise ExerciseSpecError(error)
            return ids or []

        yield validate

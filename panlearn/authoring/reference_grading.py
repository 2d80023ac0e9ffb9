"""Grading an exercise before anyone may import it: its solution, and its blank student version.

`grading.validation.validate_exercise` proves the reference solution scores
full marks on every file it may be given. This adds the other half of what
an author must prove: the student version, as a learner downloads it (every
answer replaced by `raise NotImplementedError()`), scores 0. A check that
passes without an answer gives points for nothing, usually because it
compares a value the author's own cells computed with itself.

Both run through the platform's real pipeline and sandbox. Web requests and
background imports run them in a spawned process (papermill changes the
working directory); the CLI runs them in its own process.
"""

from __future__ import annotations

import multiprocessing
import weakref
from collections.abc import Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from panlearn.datasets.resolve import papermill_parameters, resolve_exercise_datasets
from panlearn.datasets.settings import DatasetsContext
from panlearn.grading.core.errors import ExerciseSpecError
from panlearn.grading.core.settings import GradingSettings
from panlearn.grading.core.spec import load_exercise_spec
from panlearn.grading.reference import ExerciseValidation, job_files
from panlearn.grading.validation import Validator, validate_exercise
from panlearn.notebooks.student import make_student_version

if TYPE_CHECKING:
    from panlearn.grading.core.pool import KernelPool

# The grading core (papermill, numpy) is imported when an exercise is checked: the
# authoring services and the workspace's pages import this module at start-up.


def check_exercise(notebook: Any, datasets: list[dict[str, Any]], *,
                   settings: GradingSettings, data: DatasetsContext,
                   pool: KernelPool) -> ExerciseValidation:
    """Full marks for the reference solution on every file, 0 for the blank student version.

    Raises `ExerciseSpecError` saying which checks fail the reference or pass
    without an answer. ``pool`` starts the sandboxes (one launcher for an import).
    """
    from panlearn.grading.core.answers import decode_answers
    from panlearn.grading.core.pipeline import grade_notebook

    validation = validate_exercise(notebook, datasets, settings=settings, data=data, pool=pool)
    resolved = resolve_exercise_datasets(datasets, registry=data.registry, cache=data.file_cache)
    reference = decode_answers(validation.reference_answers[0][1]) \
        if validation.reference_answers else None
    spec = load_exercise_spec(notebook)
    if validation.in_kernel_checks:
        spec = spec.with_checks_in_kernel(validation.in_kernel_checks)
    outcome = grade_notebook(notebook, make_student_version(notebook),
                             parameters=papermill_parameters(resolved),
                             data_files=job_files(resolved), settings=settings,
                             spec=spec, reference=reference, pool=pool)
    passing = [check for check in outcome.checks if check.score > 0]
    if passing:
        names = ", ".join(repr(check.grade_id) for check in passing)
        raise ExerciseSpecError(
            f"the blank student version scores {outcome.score:g}/{outcome.max_score:g}: "
            f"{names} {'passes' if len(passing) == 1 else 'pass'} without an answer (a check "
            "should read what the student computes, not only what your own cells computed)",
            errors={"checks": [check.grade_id for check in passing]})
    return validation


def in_process_checker(settings: GradingSettings, data: DatasetsContext) -> Validator:
    """For the CLI: the command's own process may run papermill.

    One pool (its zygotes) serves every exercise of the command; it is closed
    when the checker is dropped.
    """
    from panlearn.grading.core.pool import KernelPool

    pool = KernelPool(settings, size=0)

    def check(notebook: Any, datasets: list[dict[str, Any]]) -> ExerciseValidation:
        return check_exercise(notebook, datasets, settings=settings, data=data, pool=pool)

    weakref.finalize(check, pool.close)
    return check


#: The spawned checker process's pool, made for its first exercise, ended with the process.
_child_pool: list[KernelPool] = []


def _check_in_child(values: Mapping[str, Any], notebook: dict[str, Any],
                    datasets: list[dict[str, Any]]
                    ) -> tuple[ExerciseValidation | None, str | None]:
    from panlearn.datasets.settings import DatasetsConfig
    from panlearn.grading.core.pool import KernelPool
    from panlearn.grading.core.settings import grading_settings

    data = DatasetsContext(DatasetsConfig.from_settings(values))
    settings = grading_settings(values)
    if not _child_pool:
        _child_pool.append(KernelPool(settings, size=0))
    try:
        return check_exercise(notebook, datasets, settings=settings, data=data,
                              pool=_child_pool[0]), None
    except ExerciseSpecError as error:
        return None, error.detail


@contextmanager
def subprocess_checker(values: Mapping[str, Any]) -> Iterator[Validator]:
    """For web requests and background imports: one spawned process for every exercise.

    Data problems (`UpstreamError` and kin) cross the process boundary as
    themselves, so the caller can tell "the data is unreachable" from "the
    exercise is wrong".
    """
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as executor:

        def check(notebook: Any, datasets: list[dict[str, Any]]) -> ExerciseValidation:
            result, error = executor.submit(_check_in_child, dict(values), dict(notebook),
                                            list(datasets)).result()
            if error is not None:
                raise ExerciseSpecError(error)
            return result or ExerciseValidation()

        yield check

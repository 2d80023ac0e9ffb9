"""Grade one submission: the declared pipeline of the grading core.

One `Run` object passes through named steps, each a small function::

    prepare     validate parameters, restore the author's checks, check the references
    isolate     take a sandboxed kernel with the job's data files, and a check sandbox
    execute     papermill runs the notebook; a watchdog kills the sandbox at the time limit
    extract     the student's answers at each check's place, read back as plain data
    check       the checks run in their own sandbox on answers + trusted context
    score       a result per check, points only for passed checks
    feedback    the executed notebook with visible check sources and messages

Who wrote each value a check reads decides where it comes from (see `spec`):
the student's kernel provides only the *answers*; everything else the check
reads (the data the author's cells load, constants) is the *context*, taken
from the trusted run of the author's notebook on the same files. That run is
`compute_reference_answers`, through this same pipeline; callers pass its
values (or a provider) as ``reference``, or it is computed on demand.

Plain Python, no Flask and no database: dispatch (a local process pool or
Celery) calls `grade_notebook` in a worker process, never in a request
thread (papermill and nbclient keep process-global state).
"""

from __future__ import annotations

import contextlib
import copy
import json
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

from .answers import Answer, AnswerReadError, ReferenceAnswers, extraction_code, read_answers
from .checks import CheckResult, check_job
from .engine import CellReply, RunRecord
from .errors import ExerciseSpecError, GradingError, InvalidParametersError
from .execution import (
    DataFiles,
    Watchdog,
    data_file_name,
    discard,
    execute_on_kernel,
    kernel_parameters,
    named_files,
    stop_reason,
    using_pool,
)
from .matching import CHECK_MARK, prepare_submission
from .names import imported_modules
from .pool import KernelPool, Priority
from .sandboxes import CheckSandbox, KernelSandbox
from .settings import GradingSettings
from .spec import CheckSpec, ExerciseSpec, load_exercise_spec
from .verdicts import (
    NOT_PLAIN_PREFIX,
    earlier_error,
    in_kernel_result,
    isolated_result,
    set_feedback,
)

__all__ = [
    "GradingOutcome",
    "compute_reference_answers",
    "grade_notebook",
    "validate_parameters",
    "validate_reference_solution",
]

#: Reference answers, or a callable that provides them (called only if a check needs them).
ReferenceSource = ReferenceAnswers | Callable[[], ReferenceAnswers]

_REFERENCE_NOT_PLAIN = "The reference solution's value of"


@dataclass
class GradingOutcome:
    """Everything one grading run produced (a student outcome, even at score 0)."""

    checks: list[CheckResult]
    score: float
    max_score: float
    #: The executed notebook for feedback: visible check sources, result messages as outputs.
    executed_notebook: NotebookNode
    #: Seconds per phase: prepare, wait_kernel, execute, extract, wait_checks, checks, total.
    timings: dict[str, float]
    #: Run-level notes for the student (time limit, dead kernel, truncated output).
    notes: list[str] = field(default_factory=list)
    #: Only when grading the reference solution itself: the values its checks take from it
    #: (context and ``reference.<name>``), by check. Never shown to students.
    reference_answers: ReferenceAnswers = field(default_factory=dict)
    #: Which sandbox ran it, and what the submission used (CPU seconds, peak memory).
    sandbox: dict[str, Any] = field(default_factory=dict)


@dataclass
class Run:
    """One grading run as it moves through the steps."""

    spec: ExerciseSpec
    settings: GradingSettings
    #: The submission with outputs stripped and the author's check cells restored.
    prepared: NotebookNode
    #: Validated parameters as the caller gave them (host paths of data files).
    parameters: dict[str, Any]
    #: Data file name → host path.
    files: dict[str, Path]
    #: The trusted values each check takes from the reference run, by grade id.
    references: ReferenceAnswers
    #: Grading the author's notebook itself: its own values are the reference.
    self_reference: bool
    started: float = field(default_factory=time.perf_counter)
    timings: dict[str, float] = field(default_factory=dict)
    kernel: KernelSandbox | None = None
    #: A check sandbox being started alongside (launchers that cannot reuse the kernel's).
    checks_box: Future[CheckSandbox] | None = None
    record: RunRecord = field(default_factory=RunRecord)
    executed: NotebookNode | None = None
    replies: dict[int, CellReply] = field(default_factory=dict)
    stop_reason: str | None = None
    #: Values each isolated check will see (answers, and context when grading the reference).
    values: dict[str, dict[str, Answer]] = field(default_factory=dict)
    #: Why an isolated check could not run, by grade id.
    not_run: dict[str, str] = field(default_factory=dict)
    runner_results: dict[str, dict[str, Any]] = field(default_factory=dict)
    results: list[CheckResult] = field(default_factory=list)

    @contextlib.contextmanager
    def timed(self, phase: str) -> Iterator[None]:
        """Add the time spent in the block to ``timings[phase]``."""
        t = time.perf_counter()
        try:
            yield
        finally:
            self.timings[phase] = self.timings.get(phase, 0.0) + time.perf_counter() - t

    def order(self, check: CheckSpec) -> int:
        """The check's position (names its answers folder)."""
        return [c.grade_id for c in self.spec.checks].index(check.grade_id)

    def extracted(self, check: CheckSpec) -> tuple[str, ...]:
        """What is read out of the kernel at this check: answers; all of it for the reference."""
        if not self.self_reference:
            return check.answer_names
        return tuple(dict.fromkeys((*check.answer_names, *check.context_names,
                                    *check.reference_names)))


# -- entry points --------------------------------------------------------------

def grade_notebook(
    source_nb: NotebookNode | Mapping[str, Any],
    submitted_nb: NotebookNode | Mapping[str, Any] | bytes | str,
    *,
    parameters: Mapping[str, Any],
    data_files: DataFiles,
    settings: GradingSettings,
    pool: KernelPool | None = None,
    spec: ExerciseSpec | None = None,
    priority: int = Priority.INTERACTIVE,
    reference: ReferenceSource | None = None,
) -> GradingOutcome:
    """Grade ``submitted_nb`` against the author's ``source_nb``.

    ``reference`` holds the values the checks take from the author's notebook
    run on these same files (or a callable returning them); when a check
    needs them and none are given, they are computed first, through the same
    pool. They are only ever handed to the check sandbox, never to the
    student's kernel.

    Raises `SubmissionRejectedError` / `InvalidParametersError` (the input is
    wrong, nothing ran) or `GradingError` (the platform failed: mark the
    submission ``failed``, retry later). Anything the student's code does,
    including crashing, looping or exhausting limits, is a graded outcome.
    """
    source = _as_notebook(source_nb)
    spec = spec or load_exercise_spec(source)
    with using_pool(settings, pool) as active:
        if spec.needs_reference and reference is None:
            def reference() -> ReferenceAnswers:
                return compute_reference_answers(source, parameters=parameters,
                                                 data_files=data_files, settings=settings,
                                                 pool=active, spec=spec)
        return _grade(source, submitted_nb, parameters=parameters, data_files=data_files,
                      settings=settings, pool=active, spec=spec, priority=priority,
                      reference=reference, self_reference=False)


def compute_reference_answers(
    source_nb: NotebookNode | Mapping[str, Any],
    *,
    parameters: Mapping[str, Any],
    data_files: DataFiles,
    settings: GradingSettings,
    pool: KernelPool | None = None,
    spec: ExerciseSpec | None = None,
) -> ReferenceAnswers:
    """Run the author's notebook on these files; the values its checks take from it.

    The same sandboxed pipeline as a submission: the values are extracted as
    plain data (JSON, ``.npy``; never pickles) at each check's place. Raises
    `GradingError` when a value a check needs is missing or not plain data.
    """
    source = _as_notebook(source_nb)
    spec = spec or load_exercise_spec(source)
    with using_pool(settings, pool) as active:
        outcome = _grade(source, source, parameters=parameters, data_files=data_files,
                         settings=settings, pool=active, spec=spec,
                         priority=Priority.INTERACTIVE, reference=None, self_reference=True)
    for check in spec.checks:
        values = outcome.reference_answers.get(check.grade_id, {})
        for name in check.trusted_names:
            answer = values.get(name)
            if answer is None or answer.kind not in {"json", "npy"}:
                result = next((c for c in outcome.checks if c.grade_id == check.grade_id), None)
                raise GradingError(
                    f"the reference solution gives no plain value for {name} at "
                    f"check {check.grade_id!r}"
                    + (f": {result.output.splitlines()[0]}" if result and result.output else "")
                )
    return outcome.reference_answers


def validate_reference_solution(
    source_nb: NotebookNode | Mapping[str, Any],
    *,
    parameters: Mapping[str, Any],
    data_files: DataFiles,
    settings: GradingSettings,
    pool: KernelPool | None = None,
) -> tuple[ExerciseSpec, GradingOutcome]:
    """Grade the author's notebook itself; it must score full marks (used at import).

    Returns the spec to store with the exercise: checks whose values are not
    plain data are switched to run in the student's kernel (``tamper_proof=False``),
    decided here from the trusted reference rather than from what a student
    submits; a check that reads ``reference.<name>`` may not be switched
    (`ExerciseSpecError`). The outcome carries the values the checks take from
    the reference (``outcome.reference_answers``), to cache.
    Raises `ExerciseSpecError` otherwise.
    """
    source = _as_notebook(source_nb)
    spec = load_exercise_spec(source)
    with using_pool(settings, pool) as active:

        def run(spec: ExerciseSpec) -> GradingOutcome:
            return _grade(source, source, parameters=parameters, data_files=data_files,
                          settings=settings, pool=active, spec=spec,
                          priority=Priority.INTERACTIVE, reference=None, self_reference=True)

        outcome = run(spec)
        needs_kernel = [c.grade_id for c in outcome.checks
                        if c.output.startswith(NOT_PLAIN_PREFIX)]
        if needs_kernel:
            spec = spec.with_checks_in_kernel(needs_kernel)  # raises for reference checks
            outcome = run(spec)
    failed = [c for c in outcome.checks if c.status != "passed"]
    if failed:
        details = "; ".join(
            f"{c.grade_id}: {c.output.splitlines()[0] if c.output else 'failed'}" for c in failed
        )
        raise ExerciseSpecError(
            "the reference solution does not score full marks "
            f"({outcome.score:g}/{outcome.max_score:g}): {details}",
            errors={"checks": [c.grade_id for c in failed]},
        )
    return spec, outcome


def validate_parameters(spec: ExerciseSpec, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Return the parameters if names are declared identifiers and values plain JSON.

    papermill pastes parameter names into code unescaped, so a name is only
    accepted if the notebook's ``parameters`` cell assigns it.
    """
    out: dict[str, Any] = {}
    declared = set(spec.parameter_names)
    for name, value in parameters.items():
        if not isinstance(name, str) or not name.isidentifier() or name not in declared:
            raise InvalidParametersError(
                f"parameter {name!r} is not assigned in the notebook's 'parameters' cell "
                f"(declared: {', '.join(sorted(declared)) or 'none'})",
                errors={"parameters": str(name)},
            )
        try:
            if json.loads(json.dumps(value, allow_nan=False)) != value:
                raise ValueError("changes through JSON")
        except (TypeError, ValueError) as exc:
            raise InvalidParametersError(
                f"parameter {name!r} must be plain JSON (string, number, bool, null, list, object)",
                errors={"parameters": name},
            ) from exc
        out[name] = value
    return out


# -- the steps -------------------------------------------------------------------

def _grade(source: NotebookNode, submitted_nb: NotebookNode | Mapping[str, Any] | bytes | str,
           *, parameters: Mapping[str, Any], data_files: DataFiles, settings: GradingSettings,
           pool: KernelPool, spec: ExerciseSpec, priority: int,
           reference: ReferenceSource | None, self_reference: bool) -> GradingOutcome:
    """`grade_notebook`, or (``self_reference``) a run of the author's notebook itself."""
    run = prepare(source, submitted_nb, parameters=parameters, data_files=data_files,
                  settings=settings, spec=spec, reference=reference,
                  self_reference=self_reference)
    with pool.busy():
        isolate(run, pool, priority)
        try:
            execute(run)
            extract(run)
            check(run, pool)
            score(run)
            return feedback(run)
        finally:
            release(run, pool)


def prepare(source: NotebookNode, submitted_nb: Any, *, parameters: Mapping[str, Any],
            data_files: DataFiles, settings: GradingSettings, spec: ExerciseSpec,
            reference: ReferenceSource | None, self_reference: bool) -> Run:
    """Validate everything before any student code runs.

    The parameters must be the notebook's own; the submission a notebook of
    this exercise (its check cells restored from the author's); and the
    reference values every check needs present, else the platform failed.
    """
    t0 = time.perf_counter()
    params = validate_parameters(spec, parameters)
    references = {} if self_reference else _checked_reference(spec, reference)
    prepared = prepare_submission(spec, source, submitted_nb, settings)
    files = named_files(data_files)
    run = Run(spec=spec, settings=settings, prepared=prepared, parameters=params, files=files,
              references=references, self_reference=self_reference, started=t0)
    run.timings["prepare"] = time.perf_counter() - t0
    return run


def isolate(run: Run, pool: KernelPool, priority: int) -> None:
    """Take a sandboxed kernel that reads the job's files; start its check sandbox alongside.

    The kernel is the warm one that preloaded what this (trusted) exercise
    imports, when one is. The zygote's sandboxes run the checks themselves
    once the kernel is done; the others get a check sandbox made while the
    notebook runs.
    """
    with run.timed("wait_kernel"):
        modules = imported_modules(run.spec.import_code)
        run.kernel = pool.acquire_kernel(priority, timeout=run.settings.total_timeout_s,
                                         modules=modules, files=run.files)
        if not pool.launcher.checks_in_kernel_sandbox():
            run.checks_box = _background.submit(pool.acquire_checks, modules, run.files)


def execute(run: Run) -> None:
    """Run the notebook on the kernel; the watchdog kills the whole sandbox at the limit.

    Each isolated check's cell becomes the extraction of its answers; checks
    that must run in the student's kernel keep their source.
    """
    kernel, settings = run.kernel, run.settings
    assert kernel is not None
    run_nb = copy.deepcopy(run.prepared)
    for cell in run_nb.cells:
        grade_id = cell.metadata.get(CHECK_MARK)
        if grade_id is None:
            continue
        check_spec = run.spec.check(grade_id)
        if check_spec.tamper_proof:
            cell.source = extraction_code(
                run.extracted(check_spec), f"{kernel.answers_dir}/{run.order(check_spec)}")
            run.record.extractions[cell.id] = cell.source
        else:
            cell.source = check_spec.source
    params = kernel_parameters(run.parameters, run.files, kernel)
    watchdog = Watchdog(kernel, deadline=run.started + settings.total_timeout_s)
    with run.timed("execute"), watchdog:
        try:
            execute_on_kernel(run_nb, params, settings, kernel, run.record)
        except Exception as exc:
            if run.record.nb is None:
                raise GradingError(
                    f"the notebook could not be executed: {type(exc).__name__}: {exc}") from exc
            run.record.kernel_died = True
    executed = run.record.nb if run.record.nb is not None else run_nb
    # papermill adds "error in cell N" banners; the feedback shows our own messages instead.
    executed.cells = [
        c for c in executed.cells if "papermill-error-cell-tag" not in c.metadata.get("tags", [])]
    run.executed = executed
    run.replies = {i: run.record.replies[c.id] for i, c in enumerate(executed.cells)
                   if c.get("id") in run.record.replies}
    run.stop_reason = stop_reason(kernel, settings, run.record, watchdog)


def extract(run: Run) -> None:
    """Read each isolated check's values out of the sandbox, defensively, then pause the kernel.

    The files were written by the student's process: every path component is
    opened without following links, sizes are capped, and only plain data
    (JSON, ``.npy`` without pickles) is accepted.
    """
    kernel = run.kernel
    assert kernel is not None and run.executed is not None
    cells = {c.metadata.get(CHECK_MARK): i for i, c in enumerate(run.executed.cells)
             if c.metadata.get(CHECK_MARK)}
    root, prefix = kernel.answers_location()
    with run.timed("extract"):
        for check_spec in run.spec.checks:
            if not check_spec.tamper_proof:
                continue
            reply = run.replies.get(cells[check_spec.grade_id])
            if reply is None:
                run.not_run[check_spec.grade_id] = (run.stop_reason
                                                    or "the notebook stopped before this check")
                continue
            if reply.status != "ok":
                run.not_run[check_spec.grade_id] = (
                    "your notebook's state could not be read at this check "
                    + (f"({reply.ename}: {reply.evalue})" if reply.ename else ""))
                continue
            try:
                values = read_answers(root, f"{prefix}{run.order(check_spec)}",
                                      run.extracted(check_spec), run.settings.max_answer_bytes)
            except (AnswerReadError, OSError) as exc:
                run.not_run[check_spec.grade_id] = (
                    f"your notebook's answers could not be read ({exc})")
                continue
            _take_values(run, check_spec, values)
        if run.checks_box is not None:
            kernel.pause()  # done with student code: nothing of it runs on; killed at `release`


def check(run: Run, pool: KernelPool) -> None:
    """Run the checks that got their values, away from the student's code.

    In the kernel's own sandbox once its processes are ended (the zygote's),
    or in a check sandbox of their own (forked while the notebook ran, or now
    when the kernel's sandbox is already gone: it hit a limit).
    """
    values = {g: v for g, v in run.values.items()
              if not any(a.kind in {"unsupported", "invalid"} for a in v.values())
              and g not in run.not_run}
    if not values:
        return
    assert run.kernel is not None
    with run.timed("wait_checks"):
        if run.checks_box is not None:  # forked while the notebook ran
            box = run.checks_box.result(timeout=run.settings.start_timeout_s)
        elif run.kernel.is_alive():  # the kernel's sandbox, its kernel ended
            box = run.kernel.checks(run.settings.start_timeout_s)
        else:
            box = pool.acquire_checks(imported_modules(run.spec.import_code), run.files)
            run.checks_box = _finished(box)
    with run.timed("checks"):
        header, blobs = check_job(run.spec, _paths_for(run, box), values, run.references,
                                  run.settings.cell_timeout_s)
        limit = run.settings.cell_timeout_s * len(header["checks"]) + 5
        results = box.run(header, blobs, limit)
        if results is None and box.is_alive():
            raise GradingError("the check sandbox did not answer")
        run.runner_results = {r["grade_id"]: r for r in results or []
                              if isinstance(r, dict) and "grade_id" in r}


def score(run: Run) -> None:
    """A result per check: isolated ones from the check sandbox, the others from the kernel."""
    assert run.executed is not None
    check_counts = {reply.execution_count for i, reply in run.replies.items()
                    if run.executed.cells[i].metadata.get(CHECK_MARK)
                    and reply.execution_count is not None}
    cells = {c.metadata.get(CHECK_MARK): i for i, c in enumerate(run.executed.cells)
             if c.metadata.get(CHECK_MARK)}
    for check_spec in run.spec.checks:
        index = cells[check_spec.grade_id]
        earlier = earlier_error(run.executed, run.replies, index)
        if check_spec.tamper_proof:
            result = isolated_result(check_spec, run.values.get(check_spec.grade_id),
                                      run.runner_results.get(check_spec.grade_id),
                                      run.not_run.get(check_spec.grade_id), earlier)
        else:
            result = in_kernel_result(check_spec, run.replies.get(index), run.stop_reason,
                                       earlier, check_counts)
        run.results.append(result)


def feedback(run: Run) -> GradingOutcome:
    """The outcome: results, score, and the executed notebook with visible sources only."""
    assert run.executed is not None and run.kernel is not None
    cells = {c.metadata.get(CHECK_MARK): c for c in run.executed.cells
             if c.metadata.get(CHECK_MARK)}
    for check_spec, result in zip(run.spec.checks, run.results, strict=True):
        set_feedback(cells[check_spec.grade_id], check_spec, result)
    notes = [f"Your notebook stopped early: {run.stop_reason}."] if run.stop_reason else []
    if run.record.truncated:
        notes.append(f"Output was truncated at {run.settings.max_output_bytes:,} bytes.")
    run.timings["total"] = time.perf_counter() - run.started
    return GradingOutcome(
        checks=run.results, score=float(sum(r.score for r in run.results)),
        max_score=run.spec.max_score, executed_notebook=run.executed, timings=run.timings,
        notes=notes, reference_answers=run.references if run.self_reference else {},
        sandbox={"launcher": run.kernel.launcher, **run.kernel.usage()},
    )


def release(run: Run, pool: KernelPool) -> None:
    """Kill the run's sandboxes off the critical path (their namespaces go with them)."""
    boxes: list[Any] = [run.kernel] if run.kernel is not None else []
    run.kernel = None
    discard(boxes, run.checks_box, run.settings.start_timeout_s)


# -- helpers ---------------------------------------------------------------------

#: Starts check sandboxes while notebooks run (forks are quick; this only overlaps them).
_background = ThreadPoolExecutor(max_workers=2, thread_name_prefix="grading-bg")


def _finished(box: CheckSandbox) -> Future[CheckSandbox]:
    """A done future holding ``box`` (so `release` kills it like the others)."""
    future: Future[CheckSandbox] = Future()
    future.set_result(box)
    return future


def _as_notebook(nb: NotebookNode | Mapping[str, Any]) -> NotebookNode:
    return nb if isinstance(nb, NotebookNode) else nbformat.from_dict(copy.deepcopy(dict(nb)))


def _paths_for(run: Run, box: CheckSandbox) -> dict[str, Any]:
    """The parameters as the check sandbox sees its data files."""
    return {name: box.data_paths.get(data_file_name(run.files, value) or "", value)
            for name, value in run.parameters.items()}


def _checked_reference(spec: ExerciseSpec, reference: ReferenceSource | None
                       ) -> ReferenceAnswers:
    """The trusted values the checks need, all present and plain; else `GradingError`."""
    if not spec.needs_reference:
        return {}
    if reference is None:
        raise GradingError("checks read the reference solution's values, but none were given")
    answers = reference() if callable(reference) else reference
    out: ReferenceAnswers = {}
    for check_spec in spec.checks:
        names = check_spec.trusted_names
        if not names:
            continue
        values = answers.get(check_spec.grade_id) or {}
        missing = [n for n in names if n not in values or values[n].kind not in {"json", "npy"}]
        if missing:
            raise GradingError(f"the reference answers lack {missing[0]} for check "
                               f"{check_spec.grade_id!r}")
        out[check_spec.grade_id] = {n: values[n] for n in names}
    return out


def _take_values(run: Run, check_spec: CheckSpec, values: dict[str, Answer]) -> None:
    """What the check sandbox gets for this check: answers, plus the trusted context."""
    grade_id = check_spec.grade_id
    if run.self_reference:
        own = {n: values[n] for n in check_spec.trusted_names}
        run.references[grade_id] = own
        bad = [n for n in check_spec.reference_names if own[n].kind not in {"json", "npy"}]
        if bad:
            answer = own[bad[0]]
            run.not_run[grade_id] = (
                f"{_REFERENCE_NOT_PLAIN} `{bad[0]}` at this check is "
                + ("not defined" if answer.kind == "missing"
                   else f"not plain data ({answer.detail or answer.kind})"))
            return
        run.values[grade_id] = {n: values[n] for n in check_spec.free_names}
        return
    context = run.references.get(grade_id, {})
    run.values[grade_id] = {**{n: values[n] for n in check_spec.answer_names},
                            **{n: context[n] for n in check_spec.context_names}}


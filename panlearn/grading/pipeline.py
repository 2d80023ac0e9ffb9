"""Grade one submission: the declared pipeline of the grading core.

    prepare (validate, strip, restore checks) → take a warm sandboxed kernel →
    papermill runs the notebook (answers extracted at each check's place) →
    isolated checks run in a clean sandboxed runner → results + feedback notebook

A check may compare with what the reference solution computes on the same
data (``reference.<name>``): the caller passes those values (or a provider
callable) as ``reference``; `compute_reference_answers` produces them by
running the author's notebook through this same pipeline, and
`validate_reference_solution` returns them from its validation run.

Plain Python, no Flask and no database: dispatch (a local process pool or
Celery) calls `grade_notebook` in a worker process, never in a request
thread (papermill and nbclient keep process-global state).
"""

from __future__ import annotations

import contextlib
import copy
import json
import shutil
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode, v4
from papermill import __version__ as papermill_version
from papermill.engines import papermill_engines
from papermill.execute import prepare_notebook_metadata, remove_error_markers
from papermill.parameterize import parameterize_notebook

from .answers import (
    Answer,
    AnswerReadError,
    ReferenceAnswers,
    _read_inside,
    extraction_code,
    read_answers,
    write_answers,
)
from .checks import NOT_IMPLEMENTED, CheckResult, failure_message, needed_imports, student_frames
from .engine import ENGINE_NAME, CellReply, RunRecord
from .engine import SandboxKernelManagerName as SANDBOX_KERNEL
from .errors import ExerciseSpecError, GradingError, InvalidParametersError
from .kernels import CheckRunner, SandboxKernel, SandboxProcess
from .matching import CHECK_MARK, prepare_submission
from .pool import KernelPool, Priority
from .sandbox import resolve_bwrap
from .settings import GradingSettings
from .spec import CheckSpec, ExerciseSpec, imported_modules, load_exercise_spec

__all__ = [
    "GradingOutcome",
    "ReferenceAnswers",
    "compute_reference_answers",
    "grade_notebook",
    "validate_parameters",
    "validate_reference_solution",
]

#: Reference answers, or a callable that provides them (called only if a check needs them).
ReferenceSource = ReferenceAnswers | Callable[[], ReferenceAnswers]



@dataclass
class GradingOutcome:
    """Everything one grading run produced (a student outcome, even at score 0)."""

    checks: list[CheckResult]
    score: float
    max_score: float
    #: The executed notebook for feedback: visible check sources, result messages as outputs.
    executed_notebook: NotebookNode
    #: Seconds per phase: prepare, wait_kernel, execute, extract, checks, total.
    timings: dict[str, float]
    #: Run-level notes for the student (time limit, dead kernel, truncated output).
    notes: list[str] = field(default_factory=list)
    #: Only when grading the reference solution itself: the values of the names checks read
    #: as ``reference.<name>``, by check (grade id → name → value). Never shown to students.
    reference_answers: ReferenceAnswers = field(default_factory=dict)

    def to_results_json(self) -> dict[str, Any]:
        """Gradescope-style ``results.json`` document."""
        return {
            "score": self.score,
            "max_score": self.max_score,
            "execution_time": round(self.timings.get("total", 0.0), 3),
            "output": "\n".join(self.notes),
            "tests": [c.to_dict() for c in self.checks],
        }


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


def grade_notebook(
    source_nb: NotebookNode | Mapping[str, Any],
    submitted_nb: NotebookNode | Mapping[str, Any] | bytes | str,
    *,
    parameters: Mapping[str, Any],
    data_files: Sequence[Path],
    settings: GradingSettings,
    pool: KernelPool | None = None,
    spec: ExerciseSpec | None = None,
    priority: int = Priority.INTERACTIVE,
    reference: ReferenceSource | None = None,
) -> GradingOutcome:
    """Grade ``submitted_nb`` against the author's ``source_nb``.

    ``reference`` holds what the reference solution computes on these same
    data files, for checks that read ``reference.<name>`` (or a callable that
    returns it; see `compute_reference_answers`); it is only ever handed to
    the check runner, never to the student's kernel.

    Raises `SubmissionRejectedError` / `InvalidParametersError` (the input is
    wrong, nothing ran) or `GradingError` (the platform failed: mark the
    submission ``failed``, retry later; also when a check needs reference
    answers that were not given). Anything the student's code does,
    including crashing, looping or exhausting limits, is a graded outcome.
    """
    return _grade(source_nb, submitted_nb, parameters=parameters, data_files=data_files,
                  settings=settings, pool=pool, spec=spec, priority=priority,
                  reference=reference, self_reference=False)


def compute_reference_answers(
    source_nb: NotebookNode | Mapping[str, Any],
    *,
    parameters: Mapping[str, Any],
    data_files: Sequence[Path],
    settings: GradingSettings,
    pool: KernelPool | None = None,
    spec: ExerciseSpec | None = None,
) -> ReferenceAnswers:
    """Run the author's notebook on these files; the values its checks read as ``reference``.

    The same sandboxed pipeline as a submission: the answers are extracted as
    plain data (JSON, ``.npy``; never pickles) at each check's place. Raises
    `GradingError` when a referenced value is missing or not plain data.
    """
    outcome = _grade(source_nb, source_nb, parameters=parameters, data_files=data_files,
                     settings=settings, pool=pool, spec=spec, priority=Priority.INTERACTIVE,
                     reference=None, self_reference=True)
    spec = spec or load_exercise_spec(_as_notebook(source_nb))
    for check in spec.checks:
        values = outcome.reference_answers.get(check.grade_id, {})
        for name in check.reference_names:
            answer = values.get(name)
            if answer is None or answer.kind not in {"json", "npy"}:
                result = next((c for c in outcome.checks if c.grade_id == check.grade_id), None)
                raise GradingError(
                    f"the reference solution gives no plain value for reference.{name} at "
                    f"check {check.grade_id!r}"
                    + (f": {result.output.splitlines()[0]}" if result and result.output else "")
                )
    return outcome.reference_answers


def _as_notebook(nb: NotebookNode | Mapping[str, Any]) -> NotebookNode:
    return nb if isinstance(nb, NotebookNode) else nbformat.from_dict(copy.deepcopy(dict(nb)))


def _checked_reference(spec: ExerciseSpec, reference: ReferenceSource | None
                       ) -> ReferenceAnswers:
    """The reference answers the checks need, all present and plain; else `GradingError`."""
    if not spec.reference_names:
        return {}
    if reference is None:
        raise GradingError("checks read the reference solution's values, but none were given")
    answers = reference() if callable(reference) else reference
    out: ReferenceAnswers = {}
    for check in spec.checks:
        if not check.reference_names:
            continue
        values = answers.get(check.grade_id) or {}
        missing = [n for n in check.reference_names
                   if n not in values or values[n].kind not in {"json", "npy"}]
        if missing:
            raise GradingError(f"the reference answers lack reference.{missing[0]} for check "
                               f"{check.grade_id!r}")
        out[check.grade_id] = {n: values[n] for n in check.reference_names}
    return out


def _grade(
    source_nb: NotebookNode | Mapping[str, Any],
    submitted_nb: NotebookNode | Mapping[str, Any] | bytes | str,
    *,
    parameters: Mapping[str, Any],
    data_files: Sequence[Path],
    settings: GradingSettings,
    pool: KernelPool | None,
    spec: ExerciseSpec | None,
    priority: int,
    reference: ReferenceSource | None,
    self_reference: bool,
) -> GradingOutcome:
    """`grade_notebook`, or (``self_reference``) a run of the reference solution itself.

    In that case its own values at each check are its reference answers, returned.
    """
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    source = _as_notebook(source_nb)
    spec = spec or load_exercise_spec(source)
    params = validate_parameters(spec, parameters)
    # Before any student code runs: a missing reference is the platform's failure.
    references = {} if self_reference else _checked_reference(spec, reference)
    prepared = prepare_submission(spec, source, submitted_nb, settings)
    read_only = tuple(Path(p).resolve() for p in data_files)
    resolve_bwrap(settings)
    timings["prepare"] = time.perf_counter() - t0

    with pool.busy() if pool is not None else contextlib.nullcontext():
        t = time.perf_counter()
        # A kernel that already imported what this (trusted) exercise imports, when one is warm.
        modules = imported_modules(spec.import_code)
        kernel, runner, pooled = _acquire(settings, pool, read_only, priority, modules)
        kernel.promote()
        runner.promote()
        timings["wait_kernel"] = time.perf_counter() - t
        try:
            return _run(spec, prepared, params, settings, kernel, runner, timings, t0,
                        references, self_reference)
        finally:
            if pooled and pool is not None:
                _discard(kernel)
                pool.release_runner(runner)
            else:
                _discard(kernel, runner)


def validate_reference_solution(
    source_nb: NotebookNode | Mapping[str, Any],
    *,
    parameters: Mapping[str, Any],
    data_files: Sequence[Path],
    settings: GradingSettings,
    pool: KernelPool | None = None,
) -> tuple[ExerciseSpec, GradingOutcome]:
    """Grade the author's notebook itself; it must score full marks (used at import).

    Returns the spec to store with the exercise: checks whose reference
    answers are not plain data are switched to run in the student's kernel
    (``tamper_proof=False``), decided here from the trusted reference rather
    than from what a student submits; a check that reads ``reference.<name>``
    may not be switched (`ExerciseSpecError`). The outcome carries the
    reference answers of this run (``outcome.reference_answers``), to cache.
    Raises `ExerciseSpecError` otherwise.
    """
    source = _as_notebook(source_nb)
    spec = load_exercise_spec(source)

    def run(spec: ExerciseSpec) -> GradingOutcome:
        return _grade(source, source, parameters=parameters, data_files=data_files,
                      settings=settings, pool=pool, spec=spec, priority=Priority.INTERACTIVE,
                      reference=None, self_reference=True)

    outcome = run(spec)
    # Raises for a check that reads the reference: it can never move into the student's kernel.
    needs_kernel = [c.grade_id for c in outcome.checks if c.output.startswith(_NOT_PLAIN_PREFIX)]
    if needs_kernel:
        spec = spec.with_checks_in_kernel(needs_kernel)
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


# -- internals ---------------------------------------------------------------


def _discard(*sandboxes: SandboxProcess) -> None:
    """Kill, reap and delete run folders off the caller's critical path.

    Killing a sandbox's process group costs milliseconds of system time (namespaces
    torn down), which the student waiting for the result need not wait for.
    """
    threading.Thread(target=lambda: [s.kill() for s in sandboxes], daemon=True).start()


_NOT_PLAIN_PREFIX = "The check cannot read"
_REFERENCE_NOT_PLAIN = "The reference solution's value of"


def _acquire(
    settings: GradingSettings,
    pool: KernelPool | None,
    read_only: tuple[Path, ...],
    priority: int,
    modules: tuple[str, ...] = (),
) -> tuple[SandboxKernel, CheckRunner, bool]:
    """A kernel and a check runner, and whether they came from ``pool``."""
    if pool is not None and pool.covers(read_only):
        kernel = pool.acquire_kernel(priority, timeout=settings.total_timeout_s, modules=modules)
        try:
            return kernel, pool.acquire_runner(timeout=settings.total_timeout_s), True
        except BaseException:
            kernel.kill()
            raise
    # Cold path: start both sandboxes at once; the runner starts while the kernel does.
    runner = CheckRunner(settings, read_only)
    try:
        kernel = SandboxKernel.start(settings, read_only)
    except BaseException:
        runner.kill()
        raise
    try:
        runner.wait_ready(settings.start_timeout_s)
    except BaseException:
        runner.kill()
        kernel.kill()
        raise
    return kernel, runner, False


def _run(
    spec: ExerciseSpec,
    prepared: NotebookNode,
    params: dict[str, Any],
    settings: GradingSettings,
    kernel: SandboxKernel,
    runner: CheckRunner,
    timings: dict[str, float],
    t0: float,
    references: ReferenceAnswers,
    self_reference: bool,
) -> GradingOutcome:
    order = {c.grade_id: i for i, c in enumerate(spec.checks)}

    def extracted(check: CheckSpec) -> tuple[str, ...]:
        # Grading the reference itself: its values of the referenced names are taken too.
        extra = check.reference_names if self_reference else ()
        return check.free_names + tuple(n for n in extra if n not in check.free_names)

    run_nb = copy.deepcopy(prepared)
    record = RunRecord()
    for cell in run_nb.cells:
        grade_id = cell.metadata.get(CHECK_MARK)
        if grade_id is None:
            continue
        check = spec.check(grade_id)
        # Isolated checks never enter the student's kernel: only an extraction snippet does.
        if check.tamper_proof:
            cell.source = extraction_code(
                extracted(check), kernel.run_dir / "answers" / str(order[grade_id])
            )
            record.extractions[cell.id] = cell.source
        else:
            cell.source = check.source

    # Watchdog: papermill only knows per-cell timeouts.
    fired = threading.Event()
    budget = max(0.1, settings.total_timeout_s - (time.perf_counter() - t0))

    def on_deadline() -> None:
        fired.set()
        kernel.stop()

    watchdog = threading.Timer(budget, on_deadline)
    watchdog.daemon = True
    t = time.perf_counter()
    watchdog.start()
    try:
        _execute(run_nb, params, settings, kernel, record)
    except Exception as exc:
        if record.nb is None:
            raise GradingError(
                f"the notebook could not be executed: {type(exc).__name__}: {exc}"
            ) from exc
        record.kernel_died = True
    finally:
        watchdog.cancel()
    timings["execute"] = time.perf_counter() - t
    executed = record.nb if record.nb is not None else run_nb
    # papermill adds "error in cell N" banners; the feedback shows our own messages instead.
    executed.cells = [
        c for c in executed.cells if "papermill-error-cell-tag" not in c.metadata.get("tags", [])
    ]
    replies = {
        i: record.replies[c.id]
        for i, c in enumerate(executed.cells)
        if c.get("id") in record.replies
    }
    stop_reason = _stop_reason(record, fired.is_set(), kernel, settings)

    # Extract answers for isolated checks, in the grader, defensively.
    t = time.perf_counter()
    cells_by_check = {
        c.metadata.get(CHECK_MARK): i
        for i, c in enumerate(executed.cells)
        if c.metadata.get(CHECK_MARK)
    }
    answers: dict[str, dict[str, Answer]] = {}
    not_run: dict[str, str] = {}
    for check in spec.checks:
        if not check.tamper_proof:
            continue
        index = cells_by_check[check.grade_id]
        reply = replies.get(index)
        if reply is None:
            not_run[check.grade_id] = stop_reason or "the notebook stopped before this check"
            continue
        if reply.status != "ok":
            not_run[check.grade_id] = "your notebook's state could not be read at this check " + (
                f"({reply.ename}: {reply.evalue})" if reply.ename else ""
            )
            continue
        try:
            values = read_answers(
                kernel.run_dir,
                f"answers/{order[check.grade_id]}",
                extracted(check),
                settings.max_answer_bytes,
            )
        except (AnswerReadError, OSError) as exc:
            not_run[check.grade_id] = f"your notebook's answers could not be read ({exc})"
            continue
        answers[check.grade_id] = {n: values[n] for n in check.free_names}
        if self_reference and check.reference_names:
            own = {n: values[n] for n in check.reference_names}
            references[check.grade_id] = own
            bad = [n for n, a in own.items() if a.kind not in {"json", "npy"}]
            if bad:
                answer = own[bad[0]]
                not_run[check.grade_id] = (
                    f"{_REFERENCE_NOT_PLAIN} `{bad[0]}` at this check is "
                    + ("not defined" if answer.kind == "missing"
                       else f"not plain data ({answer.detail or answer.kind})")
                )
    kernel.stop()  # done with student code: free its memory before the checks run
    timings["extract"] = time.perf_counter() - t

    t = time.perf_counter()
    runner_results = _run_isolated_checks(spec, params, answers, runner, settings,
                                          {g: v for g, v in references.items()
                                           if g not in not_run})
    timings["checks"] = time.perf_counter() - t

    results: list[CheckResult] = []
    check_counts = {
        reply.execution_count
        for i, reply in replies.items()
        if executed.cells[i].metadata.get(CHECK_MARK) and reply.execution_count is not None
    }
    for check in spec.checks:
        index = cells_by_check[check.grade_id]
        earlier = _earlier_error(executed, replies, index)
        if check.tamper_proof:
            result = _isolated_result(
                check,
                answers.get(check.grade_id),
                runner_results.get(check.grade_id),
                not_run.get(check.grade_id),
                earlier,
            )
        else:
            result = _in_kernel_result(
                check, replies.get(index), stop_reason, earlier, check_counts
            )
        results.append(result)
        _set_feedback(executed.cells[index], check, result)

    notes = [f"Your notebook stopped early: {stop_reason}."] if stop_reason else []
    if record.truncated:
        notes.append(f"Output was truncated at {settings.max_output_bytes:,} bytes.")
    timings["total"] = time.perf_counter() - t0
    return GradingOutcome(
        checks=results,
        score=float(sum(r.score for r in results)),
        max_score=spec.max_score,
        executed_notebook=executed,
        timings=timings,
        notes=notes,
        reference_answers=references if self_reference else {},
    )


def _execute(
    nb: NotebookNode,
    params: dict[str, Any],
    settings: GradingSettings,
    kernel: SandboxKernel,
    record: RunRecord,
) -> NotebookNode:
    """What ``papermill.execute_notebook`` does for us, without its notebook round trips.

    papermill's parameter injection, metadata and engine run the notebook, as
    before; left out are the steps that cost milliseconds and serve nothing
    here: serialising and re-parsing (and twice validating) the input
    notebook, writing the output to nowhere, the warning about undeclared
    parameters (`validate_parameters` refuses those) and `raise_for_execution_errors`
    (cell errors are the student's outcome, read from the kernel's replies).
    """
    # What papermill's `load_notebook_node` adds, on the notebook we already hold.
    nb.metadata.setdefault(
        "papermill",
        {
            "default_parameters": {},
            "parameters": {},
            "environment_variables": {},
            "version": papermill_version,
        },
    )
    for cell in nb.cells:
        cell.metadata.setdefault("tags", [])
        cell.metadata.setdefault("papermill", {})
    if params:
        nb = parameterize_notebook(
            nb, params, kernel_name=SANDBOX_KERNEL, language="python", engine_name=ENGINE_NAME
        )
    nb = remove_error_markers(prepare_notebook_metadata(nb, None, None))
    return papermill_engines.execute_notebook_with_engine(
        ENGINE_NAME,
        nb,
        kernel_name=SANDBOX_KERNEL,
        input_path=None,
        output_path=None,
        progress_bar=False,
        log_output=False,
        request_save_on_cell_execute=False,
        start_timeout=settings.start_timeout_s,
        kernel=kernel,
        record=record,
        execution_timeout=settings.cell_timeout_s,
        max_output_bytes=settings.max_output_bytes,
    )


def _stop_reason(
    record: RunRecord, fired: bool, kernel: SandboxKernel, settings: GradingSettings
) -> str | None:
    if fired:
        return f"the whole notebook ran longer than the {settings.total_timeout_s:g} s time limit"
    if record.kernel_died:
        return f"the Python kernel stopped ({kernel.exit_reason()})"
    return None


def _run_isolated_checks(
    spec: ExerciseSpec,
    params: dict[str, Any],
    answers: dict[str, dict[str, Answer]],
    runner: CheckRunner,
    settings: GradingSettings,
    references: ReferenceAnswers,
) -> dict[str, dict[str, Any]]:
    """Run the checks whose answers arrived, in the clean runner; results by grade id.

    The job lives in a folder of its own inside the runner's run folder,
    deleted afterwards, so a reused runner holds nothing of earlier students.
    (Deleted in the background: unlinking a few files took ~10-20 ms on a busy
    disk, on the critical path; the runner only ever runs trusted check code,
    which never looks at other jobs' folders.)
    """
    job_dir = runner.new_job_dir()
    try:
        return _run_job(spec, params, answers, runner, settings, job_dir, references)
    finally:
        threading.Thread(
            target=shutil.rmtree, args=(job_dir,), kwargs={"ignore_errors": True}, daemon=True
        ).start()


def _run_job(
    spec: ExerciseSpec,
    params: dict[str, Any],
    answers: dict[str, dict[str, Answer]],
    runner: CheckRunner,
    settings: GradingSettings,
    job_dir: Path,
    references: ReferenceAnswers,
) -> dict[str, dict[str, Any]]:
    jobs = []
    for i, check in enumerate(spec.checks):
        values = answers.get(check.grade_id)
        if values is None or any(a.kind in {"unsupported", "invalid"} for a in values.values()):
            continue
        if check.reference_names and check.grade_id not in references:
            continue  # reported as not run (grading the reference itself) by the caller
        folder = job_dir / str(i)
        job = {
            "grade_id": check.grade_id,
            "code": check.source,
            "folder": str(folder),
            "manifest": write_answers(folder, values),
        }
        if check.reference_names:
            # Only this check's referenced values, in a folder of their own.
            job["reference_folder"] = str(job_dir / f"{i}-reference")
            job["reference"] = write_answers(job_dir / f"{i}-reference",
                                             references[check.grade_id])
        jobs.append(job)
    if not jobs:
        return {}
    rel = job_dir.relative_to(runner.run_dir).as_posix()
    result_path = job_dir / "results.json"
    job_path = job_dir / "job.json"
    imports = needed_imports(spec.import_code, tuple(c.source for c in spec.checks))
    job_path.write_text(
        json.dumps(
            {
                "parameters": params,
                # Only the author's imports the checks can use: `import h5py` costs
                # tens of milliseconds and is rarely what a check needs.
                "imports": list(imports),
                # Imported once in the runner itself (trusted author imports), so the
                # children forked for later jobs start with them loaded.
                "warm": list(imported_modules("\n".join(imports))),
                "checks": jobs,
                "timeout": settings.cell_timeout_s,
                "result": str(result_path),
            }
        )
    )
    limit = settings.cell_timeout_s * len(jobs) + 5
    finished = runner.run_job(job_path, limit)
    try:
        data = json.loads(_read_inside(runner.run_dir, f"{rel}/results.json", 10_000_000))
    except (AnswerReadError, ValueError) as exc:
        if not finished and runner.is_alive():
            data = []
        else:
            raise GradingError(
                f"the check runner failed ({runner.exit_reason()}): {runner.log_tail(800)}"
            ) from exc
    return {r["grade_id"]: r for r in data if isinstance(r, dict) and "grade_id" in r}


def _earlier_error(
    executed: NotebookNode, replies: dict[int, CellReply], index: int
) -> CellReply | None:
    """The last error raised by a student cell above ``index`` (for hints)."""
    found: CellReply | None = None
    for i in range(index):
        reply = replies.get(i)
        if (
            reply is not None
            and reply.status == "error"
            and not executed.cells[i].metadata.get(CHECK_MARK)
        ):
            found = reply
    return found


def _hint(earlier: CellReply | None, check_counts: set[int | None]) -> str:
    if earlier is None:
        return ""
    if earlier.ename == "NotImplementedError":
        return NOT_IMPLEMENTED
    where = student_frames(earlier.traceback, {c for c in check_counts if c is not None})
    return f"An earlier cell failed with {earlier.ename}: {earlier.evalue}" + (
        f"\n{where}" if where else ""
    )


def _check_result(check: CheckSpec, status: str, output: str, ran: bool, *,
                  tamper_proof: bool) -> CheckResult:
    """A check's outcome; points only when it passed."""
    return CheckResult(grade_id=check.grade_id, name=check.name,
                       score=check.points if status == "passed" else 0.0,
                       max_score=check.points, status=status, output=output,
                       visibility=check.visibility, ran=ran, tamper_proof=tamper_proof)


def _isolated_result(
    check: Any,
    values: dict[str, Answer] | None,
    outcome: dict[str, Any] | None,
    not_run: str | None,
    earlier: CellReply | None,
) -> CheckResult:
    def make(status: str, output: str, ran: bool) -> CheckResult:
        return _check_result(check, status, output, ran, tamper_proof=True)

    if not_run is not None:
        return make("failed", f"This check did not run: {not_run}.", False)
    assert values is not None
    bad = {n: a for n, a in values.items() if a.kind in {"unsupported", "invalid"}}
    if bad:
        name, answer = next(iter(bad.items()))
        text = (
            f"{_NOT_PLAIN_PREFIX} `{name}`: it is a {answer.detail}, not plain data "
            "(a number, string, bool, None, list, dict or numpy array)."
            if answer.kind == "unsupported"
            else f"{_NOT_PLAIN_PREFIX} `{name}`: {answer.detail}."
        )
        return make("failed", text, False)
    if outcome is None:
        return make("failed", "This check did not run: the checks ran out of time.", False)
    if outcome["status"] == "passed":
        return make("passed", (outcome.get("stdout") or "").strip() or "Passed.", True)
    missing = [n for n, a in values.items() if a.kind == "missing"]
    hint = _hint(earlier, set())
    if outcome.get("ename") == "NameError" and missing:
        text = f"`{missing[0]}` is not defined when this check runs."
    else:
        text = failure_message(outcome.get("ename"), outcome.get("evalue"))
    return make(
        "failed",
        "\n".join(
            p
            for p in (
                hint if hint == NOT_IMPLEMENTED else "",
                text,
                "" if hint == NOT_IMPLEMENTED else hint,
            )
            if p
        ),
        True,
    )


def _in_kernel_result(
    check: Any,
    reply: CellReply | None,
    stop_reason: str | None,
    earlier: CellReply | None,
    check_counts: set[int | None],
) -> CheckResult:
    def make(status: str, output: str, ran: bool) -> CheckResult:
        return _check_result(check, status, output, ran, tamper_proof=False)

    if reply is None:
        return make(
            "failed",
            f"This check did not run: {stop_reason or 'the notebook stopped before it'}.",
            False,
        )
    if reply.status == "ok":
        return make("passed", "Passed.", True)
    counts = {c for c in check_counts if c is not None}
    if reply.ename == "NotImplementedError" or (
        earlier is not None and earlier.ename == "NotImplementedError"
    ):
        return make("failed", NOT_IMPLEMENTED, True)
    text = failure_message(reply.ename, reply.evalue)
    where = student_frames(reply.traceback, counts)
    if where:
        text += f"\nIn your code:\n{where}"
    hint = _hint(earlier, check_counts)
    return make("failed", text + (f"\n{hint}" if hint else ""), True)


def _set_feedback(cell: NotebookNode, check: Any, result: CheckResult) -> None:
    """Show the visible check source and its result, never hidden tests or raw tracebacks."""
    cell.source = check.visible_source
    mark = "✓" if result.status == "passed" else "✗"
    cell.outputs = [
        v4.new_output(
            "stream",
            name="stdout",
            text=f"{mark} {result.name}: {result.score:g}/{result.max_score:g}\n{result.output}\n",
        )
    ]

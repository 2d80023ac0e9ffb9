"""Run some cells of a lesson as a learner edited them: the live page's entry to the core.

A learner presses Shift-Enter on a cell of the exercise page; the platform runs
that cell *and every code cell above it*, as the learner edited them, on a
freshly forked sandbox kernel with the learner's own data files, and answers
with the outputs (stateless re-execution). Nothing is kept between runs: no
kernel per learner to reclaim, no session to route back to, so a run can go to
any grading worker (local processes or Celery) and one learner's state can
never reach another's. Exercises compute in milliseconds; the price is that
each run repeats the cells above it.

What runs is composed here from two notebooks (`compose_run`): the lesson's
*student version* (built by the server, never the author's source, so hidden
tests and solutions never reach the kernel) gives every cell, and the
learner's notebook gives only the sources of the cells they may edit
(`is_editable`: code they write, not checks, locked cells or the parameters
cell, whose values the platform injects as grading does).

`run_cells` reuses the grading core as it is: a kernel from the worker's
`KernelPool` (the job's files at ``/data/<name>``, read-only), papermill's
engine (`execution.execute_on_kernel`: per-cell timeouts, output caps, the
kernel's own replies) and the `execution.Watchdog` that kills the whole
sandbox at the run's time limit or when a cell ignores the interrupt. The
kernel is killed after one run.

Plain Python, no Flask and no database: `grading.runs` queues runs with
submissions and calls `run_cells` in a worker process, never in a request
thread (papermill and nbclient keep process-global state).
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbformat import NotebookNode, v4

from panlearn.errors import InvalidInputError, NotFoundError
from panlearn.grading.core import nbgrader

from .engine import RunRecord
from .errors import GradingError
from .execution import (
    DataFiles,
    Watchdog,
    discard,
    execute_on_kernel,
    kernel_parameters,
    named_files,
    stop_reason,
    using_pool,
)
from .names import imported_modules, python_source
from .pool import KernelPool, Priority
from .sandboxes import KernelSandbox
from .settings import GradingSettings
from .spec import is_parameters_cell

#: Longest source of one cell a run accepts, in characters (a cell is typed by hand).
MAX_CELL_CHARS = 100_000
#: The status of a cell that did not get to run (the run stopped above it).
NOT_RUN = "not-run"
#: The ename of nbclient's per-cell timeout, as `engine.SandboxEngine` sets it.
_CELL_TIMEOUT = "CellTimeoutError"
_INJECTED = "injected-parameters"


@dataclass
class CellOutcome:
    """One cell of a run: its status ("ok", "error", "timeout", "not-run") and outputs."""

    cell: str
    status: str
    outputs: list[dict[str, Any]] = field(default_factory=list)
    execution_count: int | None = None


@dataclass
class LiveOutcome:
    """What a run gave: the asked cell's status and outputs, and every cell it ran."""

    cell: str
    status: str
    outputs: list[dict[str, Any]]
    #: Every code cell of the run, the asked one last (outputs kept as the caller asked).
    cells: list[CellOutcome]
    #: Why the run stopped early, for the learner ("stopped after 10 s …"); None otherwise.
    message: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    sandbox: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON (what a `LiveRun` row stores)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LiveOutcome:
        """The outcome `to_dict` gave."""
        values = dict(data)
        values["cells"] = [CellOutcome(**cell) for cell in values.get("cells", [])]
        return cls(**values)


# -- which cells, as whom ---------------------------------------------------------

def is_editable(cell: Mapping[str, Any]) -> bool:
    """Whether a learner may change this cell on the live page.

    Code they write: not a check (restored from the author's source at
    grading anyway), not a cell nbgrader locks, not the parameters cell (the
    platform injects its values).
    """
    return (cell.get("cell_type") == "code" and not is_parameters_cell(cell)
            and not nbgrader.is_check_cell(cell) and not nbgrader.meta(cell).get("locked"))


def _source(value: Any) -> str | None:
    """A cell's source as nbformat has it (a string, or a list of lines), else None."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(line, str) for line in value):
        return "".join(value)
    return None


def learner_sources(submitted: Any) -> dict[str, str]:
    """Cell id → source of the learner's notebook (nbformat 4 JSON); 400 when malformed."""
    cells = submitted.get("cells") if isinstance(submitted, Mapping) else None
    if not isinstance(cells, list):
        raise InvalidInputError("`notebook` must be an nbformat 4 notebook with a list of cells.",
                                errors={"notebook": ["no list of cells"]})
    sources: dict[str, str] = {}
    for cell in cells:
        if not isinstance(cell, Mapping) or not isinstance(cell.get("id"), str):
            continue
        source = _source(cell.get("source"))
        if source is None:
            continue
        if len(source) > MAX_CELL_CHARS:
            raise InvalidInputError(
                f"Cell {cell['id'][:64]!r} holds {len(source):,} characters; at most "
                f"{MAX_CELL_CHARS:,} are run.", errors={"notebook": ["cell too long"]})
        sources.setdefault(cell["id"], source)
    return sources


def compose_run(student: NotebookNode, submitted: Any, cell_id: str) -> NotebookNode:
    """The code cells to run for ``cell_id``: those above it and itself, as the learner has them.

    ``student`` is the lesson's student version (trusted, built by the
    server); ``submitted`` the learner's notebook, of which only the sources
    of editable cells are taken, matched by cell id. Cells the learner added
    or deleted change nothing. Raises `NotFoundError` for an unknown cell and
    `InvalidInputError` for a cell that is not code.
    """
    index = next((i for i, c in enumerate(student.cells) if c.get("id") == cell_id), None)
    if index is None:
        raise NotFoundError(f"No cell {cell_id[:64]!r} in this lesson.")
    if student.cells[index].get("cell_type") != "code":
        raise InvalidInputError(f"Cell {cell_id!r} is not a code cell: only code runs.",
                                errors={"cell": ["not a code cell"]})
    edits = learner_sources(submitted)
    cells = []
    for cell in student.cells[:index + 1]:
        if cell.get("cell_type") != "code":
            continue
        source = str(cell.get("source", ""))
        if is_editable(cell) and cell.get("id") in edits:
            source = edits[cell["id"]]
        run_cell = v4.new_code_cell(source)
        run_cell.id = cell["id"]
        if is_parameters_cell(cell):
            run_cell.metadata["tags"] = ["parameters"]
        cells.append(run_cell)
    notebook = v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    return notebook


def notebook_modules(notebook: Mapping[str, Any]) -> tuple[str, ...]:
    """The modules a notebook's code cells import at top level (what its kernel preloads).

    Read from the lesson's own notebook, never from a learner's: what the
    pool's next kernels preload is the author's choice.
    """
    lines: list[str] = []
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        try:
            tree = ast.parse(python_source(str(cell.get("source", ""))))
        except SyntaxError:
            continue
        lines += [ast.unparse(node) for node in tree.body
                  if isinstance(node, ast.Import | ast.ImportFrom)]
    return imported_modules("\n".join(lines))


# -- running ------------------------------------------------------------------------

def run_cells(notebook: NotebookNode, cell_id: str, *, parameters: Mapping[str, Any],
              data_files: DataFiles, settings: GradingSettings, pool: KernelPool | None,
              modules: tuple[str, ...] = (), priority: int = Priority.INTERACTIVE,
              all_outputs: bool = False) -> LiveOutcome:
    """Run a composed notebook (`compose_run`) on a fresh sandbox kernel; the outcome.

    ``settings.cell_timeout_s`` limits each cell (nbclient interrupts it) and
    ``settings.total_timeout_s`` the whole run (the watchdog kills the
    sandbox). ``parameters`` name host paths of ``data_files``, which the
    kernel reads at ``/data/<name>``. The outputs of the asked cell are
    returned; those of the cells above only with ``all_outputs`` ("Run all").
    Raises `GradingError` when the platform fails; whatever the learner's code
    does is an outcome.
    """
    started = time.perf_counter()
    files = named_files(data_files)
    with using_pool(settings, pool) as active:
        kernel = active.acquire_kernel(priority, timeout=settings.total_timeout_s,
                                       modules=modules, files=files)
        timings = {"wait_kernel": time.perf_counter() - started}
        try:
            outcome = _run(notebook, cell_id, kernel, parameters, files, settings, all_outputs,
                           timings)
        finally:
            discard([kernel])
    timings["total"] = time.perf_counter() - started
    outcome.timings = {name: round(value, 4) for name, value in timings.items()}
    return outcome


def _run(notebook: NotebookNode, cell_id: str, kernel: KernelSandbox,
         parameters: Mapping[str, Any], files: Mapping[str, Path], settings: GradingSettings,
         all_outputs: bool, timings: dict[str, float]) -> LiveOutcome:
    """Execute under the watchdog; the outcome from the kernel's replies."""
    record = RunRecord()
    has_parameters = any(is_parameters_cell(c) for c in notebook.cells)
    params = kernel_parameters(parameters, files, kernel) if has_parameters else {}
    executing = time.perf_counter()
    watchdog = Watchdog(kernel, deadline=executing + settings.total_timeout_s)
    with watchdog:
        try:
            execute_on_kernel(copy.deepcopy(notebook), params, settings, kernel, record)
        except Exception as exc:
            if record.nb is None:
                raise GradingError(f"the cells could not be run: {type(exc).__name__}: "
                                   f"{exc}") from exc
            record.kernel_died = True
    timings["execute"] = time.perf_counter() - executing
    reason = stop_reason(kernel, settings, record, watchdog)
    timed_out = watchdog.timed_out or record.unresponsive
    outcome = _outcome(notebook, cell_id, record, reason, timed_out, settings, all_outputs)
    outcome.sandbox = {"launcher": kernel.launcher, **kernel.usage()}
    return outcome


def _outcome(notebook: NotebookNode, cell_id: str, record: RunRecord, reason: str | None,
             timed_out: bool, settings: GradingSettings, all_outputs: bool) -> LiveOutcome:
    """Each cell's status from the kernel's own replies, and the learner's message."""
    executed = {c.get("id"): c for c in (record.nb.cells if record.nb is not None else [])
                if _INJECTED not in c.get("metadata", {}).get("tags", [])}
    stopped = "timeout" if timed_out else "error"
    cells: list[CellOutcome] = []
    cut_short = False  # a cell before this one was running when the run was stopped
    for cell in notebook.cells:
        reply = record.replies.get(cell.id)
        if reply is not None:
            status = ("ok" if reply.status == "ok" else
                      "timeout" if reply.ename == _CELL_TIMEOUT else "error")
        elif not str(cell.source).strip():
            status = "ok"  # a blank cell is not sent to the kernel
        elif cut_short:
            status = NOT_RUN
        else:
            # The first cell without a reply is the one the run stopped in (time, memory,
            # a dead kernel); the asked cell says so whether it or a cell above was running.
            status, cut_short = stopped, True
        if cell.id == cell_id and status == NOT_RUN:
            status = stopped
        ran = executed.get(cell.id)
        keep = (all_outputs or cell.id == cell_id) and ran is not None
        cells.append(CellOutcome(cell=cell.id, status=status,
                                 outputs=_learner_outputs(ran.get("outputs", [])) if keep else [],
                                 execution_count=reply.execution_count if reply else None))
    target = cells[-1]
    message = None
    if timed_out or any(c.status == "timeout" for c in cells):
        first = next((c for c in cells if c.status == "timeout"), None)
        where = ("this cell" if first is target else "a cell above" if first is not None
                 else "the cells")
        message = (f"Stopped after {settings.cell_timeout_s:g} s: {where} ran longer than "
                   "the time limit of a run.")
    elif reason is not None:
        message = f"Stopped: {reason}."
    if record.truncated:
        message = ((message + " ") if message else "") + (
            f"Output was cut at {settings.max_output_bytes:,} bytes.")
    return LiveOutcome(cell=cell_id, status=target.status, outputs=target.outputs,
                       cells=cells, message=message)


# -- what the learner sees ------------------------------------------------------------

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
#: A host path up to a package folder: the learner needs `numpy/…`, not where we keep it.
_HOST_PREFIXES = (re.compile(r"/[^\s:'\"\x1b]*/(?:site-packages|dist-packages)/"),
                  re.compile(r"/[^\s:'\"\x1b]*/lib/python3\.\d+/"))


def _without_host_paths(text: str) -> str:
    for prefix in _HOST_PREFIXES:
        text = prefix.sub("", text)
    return text


def own_traceback(traceback: list[str]) -> list[str]:
    """An IPython traceback with the learner's frames whole and library frames on one line.

    IPython prints one block per frame: ``Cell In[n], line k`` and the lines
    around it for notebook cells, ``File /…/site-packages/numpy/….py:57, in f``
    for libraries. A library frame keeps its first line, without the host path
    of the platform's environment.
    """
    kept = []
    for block in traceback:
        plain = _ANSI.sub("", block).lstrip()
        if plain.startswith("File "):
            first = block.splitlines()[0] if block.splitlines() else block
            kept.append(_without_host_paths(first))
        else:
            kept.append(_without_host_paths(block))
    return kept


def _learner_outputs(outputs: list[Any]) -> list[dict[str, Any]]:
    """Outputs as plain dicts; tracebacks trimmed, and our own timeout banner left out."""
    kept: list[dict[str, Any]] = []
    for output in outputs:
        item = _plain(output)
        if item.get("output_type") == "error":
            if item.get("ename") == _CELL_TIMEOUT:
                continue  # the outcome's message says it, in the learner's words
            item["traceback"] = own_traceback([str(line) for line in item.get("traceback", [])])
        kept.append(item)
    return kept


def _plain(value: Any) -> Any:
    """A NotebookNode (or anything JSON-like) as plain dicts and lists."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


__all__ = ["CellOutcome", "LiveOutcome", "compose_run", "is_editable", "learner_sources",
           "notebook_modules", "own_traceback", "run_cells"]

"""Running a notebook on a sandboxed kernel: what grading and live runs share.

papermill's engine without its notebook round trips (`execute_on_kernel`), the
`Watchdog` that stops a whole sandbox at its time or memory limit and says why
(`stop_reason`), where the job's data files are seen from inside (`named_files`,
`kernel_parameters`), and the pool's lifetime around a call (`using_pool`,
`discard`).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from nbformat import NotebookNode
from papermill import __version__ as papermill_version
from papermill.engines import papermill_engines
from papermill.execute import prepare_notebook_metadata, remove_error_markers
from papermill.parameterize import parameterize_notebook

from .engine import ENGINE_NAME, RunRecord
from .engine import SandboxKernelManagerName as SANDBOX_KERNEL
from .pool import KernelPool
from .sandboxes import CheckSandbox, KernelSandbox
from .settings import GradingSettings

#: Data files: the name the job sees (``/data/<name>``) → the file on the grader's disk.
DataFiles = Mapping[str, Path] | Sequence[Path]


def discard(boxes: list[Any], starting: Future[CheckSandbox] | None = None,
            start_timeout_s: float = 60.0) -> None:
    """Kill used sandboxes (and one still ``starting``) in a thread of their own.

    A ``killpg`` and reaping cost milliseconds of system time that the
    student waiting for the result need not wait for.
    """
    def kill_all() -> None:
        if starting is not None:
            try:
                boxes.append(starting.result(timeout=start_timeout_s))
            except Exception:  # noqa: BLE001, S110 - it never started: nothing to kill
                pass
        for box in boxes:
            box.kill()

    threading.Thread(target=kill_all, daemon=True, name="sandbox-discard").start()


@contextlib.contextmanager
def using_pool(settings: GradingSettings, pool: KernelPool | None) -> Iterator[KernelPool]:
    """The caller's pool, or one made for this call (no warm sandboxes) and closed after."""
    if pool is not None:
        yield pool
        return
    with KernelPool(settings, size=0) as own:
        yield own


def named_files(data_files: DataFiles) -> dict[str, Path]:
    """Data files by the name the job sees them under (a list: by their file names)."""
    if isinstance(data_files, Mapping):
        return {str(name): Path(path) for name, path in data_files.items()}
    named: dict[str, Path] = {}
    for path in map(Path, data_files):
        name = path.name
        while name in named and named[name].resolve() != path.resolve():
            name = f"_{name}"
        named[name] = path
    return named


def kernel_parameters(parameters: Mapping[str, Any], files: Mapping[str, Path],
                      kernel: KernelSandbox) -> dict[str, Any]:
    """The parameters as the kernel sees its data files (``/data/<name>``), others as given."""
    return {name: kernel.data_paths.get(data_file_name(files, value), value)
            for name, value in parameters.items()}


def data_file_name(files: Mapping[str, Path], value: Any) -> str | None:
    """The data file name a parameter value stands for (its host path), if any."""
    if not isinstance(value, str):
        return None
    for name, path in files.items():
        if value in (str(path), str(Path(path).resolve())):
            return name
    return None


class Watchdog:
    """Kills the whole sandbox at the run's time limit, or when its memory limit bit.

    papermill only knows per-cell timeouts. And the kernel's OOM killer stops
    one process of a submission over its memory limit (the largest), while
    the rest carry on: a submission that hit the limit is stopped whole, with
    a message saying why.
    """

    def __init__(self, kernel: KernelSandbox, deadline: float) -> None:
        self.kernel = kernel
        self.deadline = deadline
        self.timed_out = False
        self.out_of_memory = False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True, name="grading-watchdog")

    def __enter__(self) -> Watchdog:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    def _watch(self) -> None:
        cgroup = self.kernel.cgroup
        while not self._done.wait(0.1):
            if cgroup is not None and cgroup.oom_kills():
                self.out_of_memory = True
            elif time.perf_counter() >= self.deadline:
                self.timed_out = True
            else:
                continue
            self.kernel.stop()
            return


def stop_reason(kernel: KernelSandbox, settings: GradingSettings, record: RunRecord,
                watchdog: Watchdog) -> str | None:
    """Why a run stopped before its end, in words for the student; None if it did not."""
    if watchdog.out_of_memory:
        return (f"its processes together used more than the {settings.memory_mb:,} MB "
                "memory limit, so the whole notebook was stopped")
    if watchdog.timed_out:
        return (f"the whole notebook ran longer than the {settings.total_timeout_s:g} s "
                "time limit")
    if record.unresponsive:
        return (f"a cell ran longer than {settings.cell_timeout_s:g} s and ignored the "
                "interrupt, so the Python kernel was stopped")
    if record.kernel_died:
        return f"the Python kernel stopped ({kernel.exit_reason()})"
    return None


def execute_on_kernel(nb: NotebookNode, params: dict[str, Any], settings: GradingSettings,
                      kernel: KernelSandbox, record: RunRecord) -> NotebookNode:
    """What ``papermill.execute_notebook`` does for us, without its notebook round trips.

    papermill's parameter injection, metadata and engine run the notebook, as
    before; left out are the steps that cost milliseconds and serve nothing
    here: serialising and re-parsing (and twice validating) the input
    notebook, writing the output to nowhere, the warning about undeclared
    parameters (`validate_parameters` refuses those) and `raise_for_execution_errors`
    (cell errors are the student's outcome, read from the kernel's replies).
    """
    nb.metadata.setdefault("papermill", {"default_parameters": {}, "parameters": {},
                                         "environment_variables": {},
                                         "version": papermill_version})
    for cell in nb.cells:
        cell.metadata.setdefault("tags", [])
        cell.metadata.setdefault("papermill", {})
    if params:
        nb = parameterize_notebook(nb, params, kernel_name=SANDBOX_KERNEL, language="python",
                                   engine_name=ENGINE_NAME)
    nb = remove_error_markers(prepare_notebook_metadata(nb, None, None))
    return papermill_engines.execute_notebook_with_engine(
        ENGINE_NAME, nb, kernel_name=SANDBOX_KERNEL, input_path=None, output_path=None,
        progress_bar=False, log_output=False, request_save_on_cell_execute=False,
        start_timeout=settings.start_timeout_s, kernel=kernel, record=record,
        execution_timeout=settings.cell_timeout_s, max_output_bytes=settings.max_output_bytes)

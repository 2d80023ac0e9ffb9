"""papermill engine that runs a notebook on an already started sandboxed kernel.

Registered as ``"panlearn"`` in papermill's engine registry. It skips
papermill's kernel start (the ~0.2-1 s that dominates small exercises) by
giving nbclient a `SandboxKernelManager` and a connected client, keeps going
after errors and per-cell timeouts (so every check gets its chance), records
the kernel's own execute reply for every cell (what students print cannot
fake it), and caps the outputs kept in memory.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from queue import Empty
from typing import Any

from nbclient.exceptions import DeadKernelError
from nbclient.util import run_sync
from nbformat import NotebookNode, v4
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import Engine, papermill_engines

from .kernels import SandboxKernelClient
from .sandboxes import KernelSandbox

ENGINE_NAME = "panlearn"


@dataclass
class CellReply:
    """The kernel's execute_reply for one cell (the source of truth for "it ran")."""

    status: str  # "ok" | "error" | "aborted"
    ename: str | None = None
    evalue: str | None = None
    traceback: list[str] = field(default_factory=list)
    execution_count: int | None = None


@dataclass
class RunRecord:
    """What happened during one run: replies by cell index, output truncation."""

    #: Keyed by cell id: papermill inserts marker cells after errors, so indices shift.
    replies: dict[str, CellReply] = field(default_factory=dict)
    output_bytes: int = 0
    truncated: bool = False
    #: Set when the kernel died (os._exit, limits, watchdog): later cells never ran.
    kernel_died: bool = False
    #: Set when a cell ignored the per-cell timeout's interrupt and the sandbox was killed.
    unresponsive: bool = False
    #: The notebook being executed (kept even when papermill raises afterwards).
    nb: NotebookNode | None = None
    #: Set by the caller: answer-extraction expressions by the cell id of the
    #: isolated check they stand for (see `_GradingClient.papermill_execute_cells`).
    extractions: dict[str, str] = field(default_factory=dict)
    #: ``user_expressions`` results of each executed cell's reply, by cell id.
    user_expressions: dict[str, dict[str, Any]] = field(default_factory=dict)


class _GradingClient(PapermillNotebookClient):
    """papermill's client with an output cap and reply recording."""

    def __init__(self, nb_man: Any, *, record: RunRecord, max_output_bytes: int, **kw: Any) -> None:
        super().__init__(nb_man, **kw)
        self._record = record
        self._max_output_bytes = max_output_bytes

    def output(
        self, outs: list[NotebookNode], msg: dict[str, Any], display_id: str | None, cell_index: int
    ) -> NotebookNode | None:
        """Keep outputs up to the byte cap, then one notice (a print loop cannot exhaust us)."""
        size = len(json.dumps(msg.get("content", {}), default=str))
        self._record.output_bytes += size
        if self._record.output_bytes > self._max_output_bytes:
            if not self._record.truncated:
                self._record.truncated = True
                notice = v4.new_output(
                    "stream",
                    name="stderr",
                    text=f"[output truncated: over the {self._max_output_bytes:,} byte limit]\n",
                )
                outs.append(notice)
            return None
        return super().output(outs, msg, display_id, cell_index)

    def execute(self, **kwargs: Any) -> NotebookNode:
        """Papermill's ``execute`` without its closing ``kernel_info`` round trip.

        The kernel's ``language_info`` is already known from the handshake in
        `_wait_connected`, and the kernel is killed right after anyway.
        """
        self.reset_execution_trackers()
        with self.setup_kernel(**kwargs):
            self.papermill_execute_cells()
        return self.nb

    def papermill_execute_cells(self) -> None:
        """Run every cell, recording the kernel's reply; a dead kernel ends the run.

        An isolated check's cell only extracts answers, so it need not cost an
        execution round trip of its own: its extraction rides as a
        ``user_expressions`` entry on the execute request of the code cell just
        before it, which the kernel evaluates right after that cell, in the
        same state the check's own cell would see. When that cell fails (the
        kernel then skips user expressions) or the expression does not
        succeed, the check's cell runs the extraction itself, as before.
        """
        record = self._record
        record.nb = self.nb
        cells = self.nb.cells
        extracted: set[str] = set()
        for index, cell in enumerate(cells):
            cell_id = cell.get("id") or str(index)
            if cell_id in extracted:
                self.nb_man.cell_start(cell, index)
                record.replies[cell_id] = CellReply(status="ok")
                self.nb_man.cell_complete(cell, cell_index=index)
                continue
            riders = self._riders(index) if _executes(cell) else {}
            kc = self.kc
            if riders and isinstance(kc, SandboxKernelClient):
                kc.next_user_expressions = {f"panlearn_{i}": riders[i] for i in riders}
            try:
                self.nb_man.cell_start(cell, index)
                self.execute_cell(cell, index)
            except DeadKernelError:
                record.kernel_died = True
                break
            finally:
                if isinstance(kc, SandboxKernelClient):
                    kc.next_user_expressions = None
                self.nb_man.cell_complete(self.nb.cells[index], cell_index=index)
            reply = record.replies.get(cell_id)
            results = record.user_expressions.get(cell_id, {})
            if reply is not None and reply.status == "ok":
                extracted |= {
                    i for i in riders if results.get(f"panlearn_{i}", {}).get("status") == "ok"
                }

    def _riders(self, index: int) -> dict[str, str]:
        """Extractions of the isolated checks between cell ``index`` and the next executed cell."""
        riders: dict[str, str] = {}
        for cell in self.nb.cells[index + 1 :]:
            cell_id = cell.get("id")
            if cell_id in self._record.extractions:
                riders[cell_id] = self._record.extractions[cell_id]
            elif _executes(cell):
                break
        return riders


def _executes(cell: NotebookNode) -> bool:
    """Whether nbclient sends this cell to the kernel (it skips non-code and blank cells)."""
    return cell.get("cell_type") == "code" and bool(str(cell.get("source", "")).strip())


def _on_cell_executed(record: RunRecord) -> Any:
    def hook(cell: NotebookNode, cell_index: int, execute_reply: dict[str, Any]) -> None:
        content = execute_reply.get("content", {})
        record.replies[cell.get("id") or str(cell_index)] = CellReply(
            status=content.get("status", "error"),
            ename=content.get("ename"),
            evalue=content.get("evalue"),
            traceback=list(content.get("traceback", []))[-30:],
            execution_count=content.get("execution_count"),
        )
        expressions = content.get("user_expressions")
        if isinstance(expressions, dict) and expressions:
            record.user_expressions[cell.get("id") or str(cell_index)] = expressions

    return hook


class SandboxEngine(Engine):
    """papermill engine over a pre-started `KernelSandbox` (pass ``kernel=`` and ``record=``)."""

    @classmethod
    def execute_managed_notebook(
        cls,
        nb_man: Any,
        kernel_name: str,
        *,
        kernel: KernelSandbox,
        record: RunRecord,
        execution_timeout: float | None = None,
        max_output_bytes: int = 2_000_000,
        start_timeout: float = 60,
        **_ignored: Any,
    ) -> NotebookNode:
        """Execute ``nb_man.nb`` on ``kernel``; errors and timeouts are recorded, not raised."""
        km = kernel.manager()
        client = _GradingClient(
            nb_man,
            km=km,
            record=record,
            max_output_bytes=max_output_bytes,
            timeout=None if execution_timeout is None else max(1, math.ceil(execution_timeout)),
            startup_timeout=math.ceil(start_timeout),
            kernel_name=kernel_name,
            allow_errors=True,
            interrupt_on_timeout=True,
            error_on_timeout={
                "ename": "CellTimeoutError",
                "evalue": f"this cell ran longer than {execution_timeout:g} s and was stopped",
                "traceback": [],
            },
            raise_on_iopub_timeout=False,
            shell_timeout_interval=1,
            record_timing=True,
            on_cell_executed=_on_cell_executed(record),
        )
        # Hand nbclient a connected client: it then neither starts nor stops a kernel.
        kc = km.client()
        record.nb = nb_man.nb
        try:
            info = run_sync(_wait_connected)(kc, start_timeout)
            if isinstance(info.get("language_info"), dict):
                nb_man.nb.metadata["language_info"] = info["language_info"]
            client.kc = kc
            return client.execute()
        except DeadKernelError:
            record.kernel_died = True
            return nb_man.nb
        finally:
            record.unresponsive = km.killed_unresponsive
            kc.stop_channels()

    @classmethod
    def nb_kernel_name(cls, nb: NotebookNode, name: str | None = None) -> str:
        """The kernel is chosen by the pool, not by the notebook's metadata."""
        return SandboxKernelManagerName

    @classmethod
    def nb_language(cls, nb: NotebookNode, language: str | None = None) -> str:
        """Exercises are Python notebooks."""
        return language or "python"


SandboxKernelManagerName = "panlearn-sandbox"


async def _wait_connected(kc: Any, timeout: float) -> dict[str, Any]:
    """Return the kernel_info reply once the kernel answers and our IOPub subscription works.

    jupyter_client's ``wait_for_ready`` ends by waiting for 0.2 s of IOPub
    silence; on a warm kernel that wait was most of the run. Here we stop as
    soon as the ``idle`` status of our own ``kernel_info`` request arrives,
    which proves the subscription is live (ZeroMQ drops IOPub messages
    published before it is).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg_id = kc.kernel_info()
        try:
            reply = await kc.get_shell_msg(timeout=min(5.0, max(0.1, deadline - time.monotonic())))
        except Empty:
            continue
        wait_until = time.monotonic() + 0.2
        while time.monotonic() < wait_until:
            try:
                msg = await kc.get_iopub_msg(timeout=max(0.01, wait_until - time.monotonic()))
            except Empty:
                break
            if (
                msg["parent_header"].get("msg_id") == msg_id
                and msg["msg_type"] == "status"
                and msg["content"].get("execution_state") == "idle"
            ):
                return reply.get("content", {}) if isinstance(reply, dict) else {}
    raise RuntimeError(f"the kernel did not answer within {timeout:g} s")


def register_engine() -> None:
    """Register the engine with papermill (idempotent)."""
    papermill_engines.register(ENGINE_NAME, SandboxEngine)


register_engine()

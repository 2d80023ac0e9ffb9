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
from queue import Empty
from dataclasses import dataclass, field
from typing import Any

from nbclient.exceptions import DeadKernelError
from nbclient.util import run_sync
from nbformat import NotebookNode, v4
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import Engine, papermill_engines

from .kernels import SandboxKernel

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
    #: The notebook being executed (kept even when papermill raises afterwards).
    nb: NotebookNode | None = None


class _GradingClient(PapermillNotebookClient):
    """papermill's client with an output cap and reply recording."""

    def __init__(self, nb_man: Any, *, record: RunRecord, max_output_bytes: int, **kw: Any) -> None:
        super().__init__(nb_man, **kw)
        self._record = record
        self._max_output_bytes = max_output_bytes

    def output(self, outs: list[NotebookNode], msg: dict[str, Any], display_id: str | None, cell_index: int) -> NotebookNode | None:
        """Keep outputs until the byte cap, then one notice (a print loop cannot exhaust our memory)."""
        size = len(json.dumps(msg.get("content", {}), default=str))
        self._record.output_bytes += size
        if self._record.output_bytes > self._max_output_bytes:
            if not self._record.truncated:
                self._record.truncated = True
                notice = v4.new_output(
                    "stream", name="stderr",
                    text=f"[output truncated: over the {self._max_output_bytes:,} byte limit]\n",
                )
                outs.append(notice)
            return None
        return super().output(outs, msg, display_id, cell_index)

    def papermill_execute_cells(self) -> None:
        """Run every cell, recording the kernel's reply; a dead kernel ends the run."""
        self._record.nb = self.nb
        for index, cell in enumerate(self.nb.cells):
            try:
                self.nb_man.cell_start(cell, index)
                self.execute_cell(cell, index)
            except DeadKernelError:
                self._record.kernel_died = True
                break
            finally:
                self.nb_man.cell_complete(self.nb.cells[index], cell_index=index)


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

    return hook


class SandboxEngine(Engine):
    """papermill engine over a pre-started `SandboxKernel` (pass ``kernel=`` and ``record=``)."""

    @classmethod
    def execute_managed_notebook(
        cls,
        nb_man: Any,
        kernel_name: str,
        *,
        kernel: SandboxKernel,
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
            run_sync(_wait_connected)(kc, start_timeout)
            client.kc = kc
            return client.execute()
        except DeadKernelError:
            record.kernel_died = True
            return nb_man.nb
        finally:
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


async def _wait_connected(kc: Any, timeout: float) -> None:
    """Return once the kernel answers and our IOPub subscription receives its messages.

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
            await kc.get_shell_msg(timeout=min(5.0, max(0.1, deadline - time.monotonic())))
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
                return
    raise RuntimeError(f"the kernel did not answer within {timeout:g} s")


def register_engine() -> None:
    """Register the engine with papermill (idempotent)."""
    papermill_engines.register(ENGINE_NAME, SandboxEngine)


register_engine()

"""Jupyter's view of a sandboxed kernel: the manager and client nbclient/papermill drive.

The kernel itself is started by a launcher (`launchers`) in a sandbox
(`sandboxes.KernelSandbox`); papermill never starts one. These adapters give
nbclient just enough of jupyter_client's `KernelManager` and an async client
whose liveness is the sandbox's, and they turn a cell that ignores the
per-cell time limit's interrupt into a killed sandbox, whatever its signal
handlers do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jupyter_client.asynchronous.client import AsyncKernelClient

if TYPE_CHECKING:  # the sandbox makes its manager (`KernelSandbox.manager`), not the reverse
    from .sandboxes import KernelSandbox

#: After a per-cell timeout the kernel is interrupted; if its main thread does not
#: answer within this many seconds (the cell ignores SIGINT), the sandbox is killed.
INTERRUPT_GRACE_S = 2.0


class SandboxKernelClient(AsyncKernelClient):
    """An async client whose liveness is the sandbox process, not a heartbeat."""

    sandbox: KernelSandbox | None = None
    #: Added to the next ``execute`` request's ``user_expressions`` (then cleared).
    next_user_expressions: dict[str, str] | None = None

    def execute(  # type: ignore[override]
        self,
        code: str,
        silent: bool = False,
        store_history: bool = True,
        user_expressions: dict[str, Any] | None = None,
        allow_stdin: bool | None = None,
        stop_on_error: bool = True,
    ) -> str:
        """`KernelClient.execute`, with the pending extraction expressions riding along."""
        if self.next_user_expressions:
            user_expressions = {**(user_expressions or {}), **self.next_user_expressions}
            self.next_user_expressions = None
        return super().execute(
            code, silent, store_history, user_expressions, allow_stdin, stop_on_error
        )

    async def is_alive(self) -> bool:  # type: ignore[override]
        """Alive while the sandbox process runs (nbclient polls this while waiting)."""
        return self.sandbox is not None and self.sandbox.is_alive()

    _async_is_alive = is_alive  # wait_for_ready calls the private name


class SandboxKernelManager:
    """Just enough of `KernelManager` for nbclient: the kernel is already running.

    nbclient only asks a manager whether it has a kernel, for a client, and to
    interrupt; it never shuts down a manager it did not create.
    """

    kernel_name = "panlearn-sandbox"
    has_kernel = True
    ipykernel = True

    def __init__(self, kernel: KernelSandbox) -> None:
        self.kernel = kernel
        self._client: SandboxKernelClient | None = None
        #: Set when a cell ignored the interrupt and the sandbox was killed for it.
        self.killed_unresponsive = False

    def client(self, **kwargs: Any) -> SandboxKernelClient:
        """A connected async client (channels started) for this kernel."""
        kc = SandboxKernelClient(**kwargs)
        kc.load_connection_info(self.kernel.client_connection())
        kc.sandbox = self.kernel
        kc.start_channels(hb=False)
        self._client = kc
        return kc

    async def interrupt_kernel(self) -> None:
        """Interrupt the running cell (on a per-cell timeout), or kill the sandbox.

        The kernel signals itself SIGINT on an ``interrupt_request``; a cell that
        catches or ignores it would keep the kernel busy until the whole run's
        limit, holding a worker. So if the kernel's main thread does not answer
        within `INTERRUPT_GRACE_S`, the whole sandbox is killed.
        """
        if self._client is None or not self.kernel.is_alive():
            return
        msg = self._client.session.msg("interrupt_request", content={})
        self._client.control_channel.send(msg)
        if not self.kernel.responsive(INTERRUPT_GRACE_S):
            self.killed_unresponsive = True
            self.kernel.stop()

    async def is_alive(self) -> bool:
        """Whether the kernel process runs."""
        return self.kernel.is_alive()

    async def shutdown_kernel(self, now: bool = False, restart: bool = False) -> None:
        """Kill the sandbox (the kernel is single-use anyway)."""
        self.kernel.kill()

    async def cleanup_resources(self, restart: bool = False) -> None:
        """Nothing to clean beyond `shutdown_kernel`."""

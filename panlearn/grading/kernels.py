"""Sandboxed processes: IPython kernels and the check runner.

We start kernels ourselves (not through `jupyter_client.KernelManager`,
whose ``kernel_cmd`` jupyter_client 8 ignores): a connection file with
``transport="ipc"`` in the run folder, then the wrapped command of
`sandbox.wrap_command`. The objects here are handed to nbclient through the
small `SandboxKernelManager` adapter, so papermill never starts a kernel.
"""

from __future__ import annotations

import json
import os
import secrets
import selectors
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import zmq
from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.connect import write_connection_file
from jupyter_client.session import Session

from .answers import EXTRACT_MODULE, EXTRACT_MODULE_SOURCE
from .errors import KernelStartError
from .sandbox import make_run_dir, pick_uid, sandbox_env, wrap_command
from .settings import GradingSettings

_SIGNAL_MEANING = {
    signal.SIGXCPU: "the CPU time limit was reached",
    signal.SIGXFSZ: "a file grew past the file-size limit",
    signal.SIGKILL: "it was killed (time or memory limit)",
    signal.SIGSEGV: "it crashed (segmentation fault)",
    signal.SIGABRT: "it aborted",
}

_PRELOAD = """\
def _panlearn_preload():
    import importlib, sys, types
    module = types.ModuleType({extract_module!r})
    exec({extract_source!r}, module.__dict__)
    sys.modules[{extract_module!r}] = module
    for name in {modules!r}:
        try:
            importlib.import_module(name)
        except Exception:
            pass
_panlearn_preload()
del _panlearn_preload
"""

#: The kernel's entry point: ``ipykernel_launcher`` without debugpy. ipykernel
#: imports debugpy at start-up when it can (about 0.1 s of CPU per kernel, a
#: tenth of a fresh kernel's cost) to offer a debugger that no grading run
#: uses; a sandboxed student kernel has no business listening for one anyway.
_LAUNCHER = (
    "import sys\n"
    "sys.modules['debugpy'] = None\n"
    "if sys.path and sys.path[0] == '':\n"
    "    del sys.path[0]\n"
    "from ipykernel import kernelapp\n"
    "kernelapp.launch_new_instance()\n"
)


class SandboxProcess:
    """A confined process with its own run folder; used once, then discarded."""

    kind = "process"

    def __init__(self, settings: GradingSettings, read_only: tuple[Path, ...]) -> None:
        self.settings = settings
        self.read_only = read_only
        self.uid = pick_uid(settings) if settings.sandbox == "bubblewrap" else None
        self.run_dir = make_run_dir(settings, self.uid, self.kind)
        self.popen: subprocess.Popen[bytes] | None = None
        self.started_at = time.monotonic()
        self.ready_at: float | None = None
        self._log = self.run_dir.parent / f"{self.run_dir.name}.log"

    def _launch(self, argv: list[str], **popen_kwargs: Any) -> None:
        cmd = wrap_command(
            self.settings, argv, run_dir=self.run_dir, uid=self.uid, read_only=self.read_only
        )
        env = (
            {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
            if self.settings.sandbox == "bubblewrap"
            else sandbox_env(self.settings, self.run_dir)
        )
        # Started niced: a pool refilling in the background must not slow the
        # submission being graded right now (see `promote`).
        cmd = ["nice", "-n", "10", *cmd]
        with open(self._log, "wb") as log:  # outside the run folder: the student cannot swap it
            self.popen = subprocess.Popen(  # noqa: S603 - argv built from settings, no shell
                cmd,
                cwd=self.run_dir,
                env=env,
                stdout=popen_kwargs.pop("stdout", log),
                stderr=log,
                start_new_session=True,  # own process group: killpg reaches the whole tree
                **popen_kwargs,
            )

    def promote(self) -> None:
        """Back to normal CPU priority once a submission uses this sandbox (root only)."""
        if self.popen is not None and os.geteuid() == 0:
            try:
                os.setpriority(os.PRIO_PGRP, self.popen.pid, 0)
            except OSError:
                pass

    def is_alive(self) -> bool:
        """Whether the sandbox's outer process is still running."""
        return self.popen is not None and self.popen.poll() is None

    def exit_reason(self) -> str:
        """Why the process ended, in words a student can act on."""
        if self.popen is None or self.popen.poll() is None:
            return "it is still running"
        code = self.popen.returncode
        signum = -code if code < 0 else code - 128 if code > 128 else None
        if signum is not None:
            try:
                sig = signal.Signals(signum)
            except ValueError:
                return f"it ended with status {code}"
            return _SIGNAL_MEANING.get(sig, f"it was stopped by {sig.name}")
        return f"it exited with status {code}"

    def log_tail(self, limit: int = 2000) -> str:
        """The end of the process's stderr (for platform error reports, never for students)."""
        try:
            return self._log.read_bytes()[-limit:].decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """Kill the whole process tree now, keeping the run folder (the watchdog's move)."""
        if self.popen is not None and self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        """Kill the whole process tree and delete the run folder."""
        if self.popen is not None:
            if self.popen.poll() is None:
                try:
                    os.killpg(self.popen.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            for stream in (self.popen.stdin, self.popen.stdout):
                if stream is not None:
                    stream.close()
        shutil.rmtree(self.run_dir, ignore_errors=True)
        self._log.unlink(missing_ok=True)


class SandboxKernel(SandboxProcess):
    """An IPython kernel in a sandbox, ready once `wait_ready` returns."""

    kind = "kernel"

    def __init__(
        self,
        settings: GradingSettings,
        read_only: tuple[Path, ...] = (),
        preload: tuple[str, ...] | None = None,
    ) -> None:
        super().__init__(settings, read_only)
        self.preload = tuple(settings.preload_modules if preload is None else preload)
        self.connection_file = self.run_dir / "kernel.json"
        write_connection_file(
            str(self.connection_file),
            transport="ipc",
            ip=str(self.run_dir / "ipc"),
            key=secrets.token_hex(16).encode(),
        )
        preload = self.run_dir / ".preload.py"
        preload.write_text(
            _PRELOAD.format(
                modules=self.preload,
                extract_module=EXTRACT_MODULE,
                extract_source=EXTRACT_MODULE_SOURCE,
            )
        )
        if self.uid is not None:
            os.chown(self.connection_file, self.uid, self.uid)
            os.chown(preload, self.uid, self.uid)
        self._launch(
            [
                settings.python,
                "-c",
                _LAUNCHER,
                "-f",
                str(self.connection_file),
                "--HistoryManager.hist_file=:memory:",
                f"--IPKernelApp.exec_files={preload}",
            ],
            stdin=subprocess.DEVNULL,
        )

    @classmethod
    def start(
        cls,
        settings: GradingSettings,
        read_only: tuple[Path, ...] = (),
        preload: tuple[str, ...] | None = None,
    ) -> SandboxKernel:
        """Start a kernel and block until it answers (preload done); kill it on failure."""
        kernel = cls(settings, read_only, preload)
        try:
            kernel.wait_ready(settings.start_timeout_s)
        except BaseException:
            kernel.kill()
            raise
        return kernel

    def wait_ready(self, timeout: float) -> None:
        """Block until the kernel replies to ``kernel_info`` (its preload has run by then).

        Plain blocking zmq and a `Session`: no asyncio loop is created, so pool
        threads leave nothing behind.
        """
        info = json.loads(self.connection_file.read_text())
        session = Session(key=info["key"].encode(), signature_scheme=info["signature_scheme"])
        context = zmq.Context.instance()
        socket = context.socket(zmq.DEALER)
        socket.linger = 0
        socket.connect(f"ipc://{info['ip']}-{info['shell_port']}")
        try:
            deadline = time.monotonic() + timeout
            sent: set[str] = set()
            last_sent = 0.0
            while True:
                if not self.is_alive():
                    raise KernelStartError(
                        f"the sandboxed kernel exited during start-up ({self.exit_reason()}): "
                        f"{self.log_tail(600)}"
                    )
                if time.monotonic() > deadline:
                    raise KernelStartError(
                        f"the sandboxed kernel was not ready within {timeout:.0f} s"
                    )
                if time.monotonic() - last_sent > 1.0:
                    sent.add(session.send(socket, "kernel_info_request", {})["header"]["msg_id"])
                    last_sent = time.monotonic()
                if not socket.poll(100):
                    continue
                _, parts = session.feed_identities(socket.recv_multipart())
                reply = session.deserialize(parts, content=False)
                if reply["parent_header"].get("msg_id") in sent:
                    break
            # A kernel's first execution pays one-time costs (lazy imports in
            # IPython's run path, ~10 ms): pay them here, with a silent run that
            # leaves no history and no execution count behind.
            warm = session.send(
                socket,
                "execute_request",
                {
                    "code": "pass",
                    "silent": True,
                    "store_history": False,
                    "user_expressions": {},
                    "allow_stdin": False,
                    "stop_on_error": False,
                },
            )["header"]["msg_id"]
            while time.monotonic() < deadline and self.is_alive():
                if not socket.poll(100):
                    continue
                _, parts = session.feed_identities(socket.recv_multipart())
                if session.deserialize(parts, content=False)["parent_header"].get("msg_id") == warm:
                    break
        finally:
            socket.close()
        self.ready_at = time.monotonic()

    def manager(self) -> SandboxKernelManager:
        """The adapter nbclient/papermill use instead of a KernelManager."""
        return SandboxKernelManager(self)


class SandboxKernelClient(AsyncKernelClient):
    """An async client whose liveness is the sandbox process, not a heartbeat."""

    sandbox: SandboxKernel | None = None
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

    def __init__(self, kernel: SandboxKernel) -> None:
        self.kernel = kernel
        self._client: SandboxKernelClient | None = None

    def client(self, **kwargs: Any) -> SandboxKernelClient:
        """A connected async client (channels started) for this kernel."""
        kc = SandboxKernelClient(connection_file=str(self.kernel.connection_file), **kwargs)
        kc.load_connection_file()
        kc.sandbox = self.kernel
        kc.start_channels(hb=False)
        self._client = kc
        return kc

    async def interrupt_kernel(self) -> None:
        """Interrupt the running cell (on a per-cell timeout) with an ``interrupt_request``.

        A SIGINT to the process group would stop bubblewrap itself (and so the
        whole sandbox); the kernel signals itself on this control message.
        """
        if self._client is not None and self.kernel.is_alive():
            msg = self._client.session.msg("interrupt_request", content={})
            self._client.control_channel.send(msg)

    async def is_alive(self) -> bool:
        """Whether the kernel process runs."""
        return self.kernel.is_alive()

    async def shutdown_kernel(self, now: bool = False, restart: bool = False) -> None:
        """Kill the sandbox (the kernel is single-use anyway)."""
        self.kernel.kill()

    async def cleanup_resources(self, restart: bool = False) -> None:
        """Nothing to clean beyond `shutdown_kernel`."""


class CheckRunner(SandboxProcess):
    """A clean sandboxed Python that runs trusted check code on answer values.

    It imports numpy, says ``ready``, then serves jobs one at a time: each job
    runs in a child forked from that clean state, which exits afterwards (see
    `checks.RUNNER_SOURCE`). So one runner serves many submissions without a
    start-up per submission, and no job sees another's values. It never sees
    student code: only check sources and plain data.
    """

    kind = "checks"

    def __init__(self, settings: GradingSettings, read_only: tuple[Path, ...] = ()) -> None:
        from .checks import RUNNER_SOURCE

        super().__init__(settings, read_only)
        #: Jobs served so far; a runner is retired after `MAX_JOBS`.
        self.jobs = 0
        #: False once a job did not end cleanly (timed out, runner died): never reuse it.
        self.reusable = True
        self._launch(
            [settings.python, "-I", "-c", RUNNER_SOURCE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )

    #: Retire a runner after this many jobs (bounds anything a long life could accumulate).
    MAX_JOBS = 500

    @classmethod
    def start(cls, settings: GradingSettings, read_only: tuple[Path, ...] = ()) -> CheckRunner:
        """Start a runner and wait for its ``ready`` line; kill it on failure."""
        runner = cls(settings, read_only)
        try:
            runner.wait_ready(settings.start_timeout_s)
        except BaseException:
            runner.kill()
            raise
        return runner

    def wait_ready(self, timeout: float) -> None:
        """Block until the runner prints ``ready`` (numpy imported)."""
        line = self.read_line(timeout)
        if line != "ready":
            raise KernelStartError(
                f"the check runner did not start ({self.exit_reason()}): {self.log_tail(600)}"
            )
        self.ready_at = time.monotonic()

    def read_line(self, timeout: float) -> str | None:
        """One line of the runner's stdout, or None on timeout/exit."""
        assert self.popen is not None and self.popen.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(self.popen.stdout, selectors.EVENT_READ)
            if not sel.select(timeout):
                return None
        line = self.popen.stdout.readline()
        return line.decode("utf-8", "replace").strip() if line else None

    def submit(self, job_path: Path) -> None:
        """Hand the runner one job (a JSON file inside its run folder)."""
        assert self.popen is not None and self.popen.stdin is not None
        self.jobs += 1
        self.popen.stdin.write(f"{job_path}\n".encode())
        self.popen.stdin.flush()

    def new_job_dir(self) -> Path:
        """A fresh folder for one job's files, writable by the runner (its results)."""
        path = self.run_dir / "jobs" / secrets.token_hex(8)
        path.mkdir(parents=True, mode=0o700)
        if self.uid is not None:
            os.chown(path.parent, self.uid, self.uid)
            os.chown(path, self.uid, self.uid)
        return path

    def run_job(self, job_path: Path, timeout: float) -> bool:
        """Submit a job and wait for it; True when it ended cleanly within ``timeout``.

        Otherwise the runner is marked not reusable (a job may still be running).
        """
        try:
            self.submit(job_path)
        except OSError:
            self.reusable = False
            return False
        line = self.read_line(timeout)
        ok = line is not None and line.startswith("done")
        if not ok or line != "done 0" or self.jobs >= self.MAX_JOBS:
            self.reusable = False
        return ok

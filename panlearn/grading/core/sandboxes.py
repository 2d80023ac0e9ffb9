"""The grader's handles on sandboxes: one isolated process tree per job, used once, killed.

A `Sandbox` knows the pid of its tree's root (PID 1 of the job's namespaces,
or the confining process), holds the read end of a pipe that only the job's
processes can keep open (EOF: every process of the job is gone), and the
job's cgroup when there is one. Killing the root ends the namespace, and with
it every process the job started; the cgroup is killed too, whatever the
student's code did with process groups or signal handlers.

The grader reaches inside through ``/proc/<pid>/root``: the kernel's ZeroMQ
sockets and the answers it writes live on the sandbox's own tmpfs, so nothing
a job writes lands on the host's disk. Launchers (`launchers`) make them.
"""

from __future__ import annotations

import json
import os
import secrets
import select
import shutil
import signal
import time
from pathlib import Path
from typing import Any

import zmq
from jupyter_client.session import Session

from .cgroups import JobCgroup
from .errors import GradingError, KernelStartError
from .inside import ANSWERS_DIR, KERNEL_DIR, recv_frame, send_frame

_SIGNAL_MEANING = {
    signal.SIGXCPU: "the CPU time limit was reached",
    signal.SIGXFSZ: "a file grew past the file-size limit",
    signal.SIGKILL: "it was killed (time or memory limit)",
    signal.SIGSEGV: "it crashed (segmentation fault)",
    signal.SIGABRT: "it aborted",
}


class Sandbox:
    """One job's isolated process tree."""

    kind = "sandbox"

    def __init__(self, *, launcher: str, root_pid: int | None, death_fd: int,
                 cgroup: JobCgroup | None, run_dir: Path | None = None,
                 popen: Any = None, memory_mb: int = 0, pids_max: int = 0,
                 preload: tuple[str, ...] = ()) -> None:
        self.launcher = launcher
        #: What the sandbox imported before it was handed out (its environment).
        self.preload = preload
        self.root_pid = root_pid
        self.cgroup = cgroup
        self.run_dir = run_dir
        self.popen = popen
        self.memory_mb = memory_mb
        self.pids_max = pids_max
        self.started_at = time.monotonic()
        self.ready_at: float | None = None
        self._death_fd: int | None = death_fd
        self._pidfd: int | None = None
        self._stopped_by_us = False
        if root_pid is not None:
            try:
                self._pidfd = os.pidfd_open(root_pid)
            except OSError:
                self._pidfd = None

    # -- life -----------------------------------------------------------------
    def is_alive(self) -> bool:
        """Whether any process of the job still runs (the death pipe has not reached EOF)."""
        if self._death_fd is None:
            return False
        ready, _, _ = select.select([self._death_fd], [], [], 0)
        return not ready

    def wait_dead(self, timeout: float) -> bool:
        """Block until every process of the job is gone; False on timeout."""
        if self._death_fd is None:
            return True
        ready, _, _ = select.select([self._death_fd], [], [], timeout)
        return bool(ready)

    def stop(self) -> None:
        """SIGKILL the whole process tree now, without waiting (the watchdog's move).

        Killing PID 1 ends every process of the namespace; the cgroup's
        processes are signalled too (bubblewrap's, or one that escaped a
        process group). Resources stay for `kill`, which waits.
        """
        self._stopped_by_us = True
        if self._pidfd is not None:
            try:
                signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.popen is not None and self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.cgroup is not None:
            self.cgroup.kill(timeout=0)

    def pause(self) -> None:
        """SIGSTOP the job's processes: none runs on, and none is torn down yet.

        After the student's code is done the kernel's sandbox must do nothing
        more; killing it right away costs the CPU its teardown takes, just when
        the checks run, so it is stopped now and killed off the critical path.
        """
        pids = self.cgroup.pids() if self.cgroup is not None else set()
        if not pids and self.popen is not None:
            try:
                os.killpg(self.popen.pid, signal.SIGSTOP)
            except ProcessLookupError:
                pass
        for pid in pids:
            try:
                os.kill(pid, signal.SIGSTOP)
            except ProcessLookupError:
                pass
        if not pids and self.popen is None:
            self.stop()  # nothing to stop it by: end it

    def kill(self) -> None:
        """Kill the tree, wait until it is gone, and free everything: pipe, cgroup, folder."""
        self.stop()
        if self.cgroup is not None:
            self.cgroup.kill(timeout=5.0)
        self.wait_dead(5.0)
        if self.popen is not None:
            try:
                self.popen.wait(timeout=5)
            except Exception:  # noqa: BLE001 - it is SIGKILLed; never block a worker on it
                pass
            for stream in (self.popen.stdin, self.popen.stdout, self.popen.stderr):
                if stream is not None:
                    stream.close()
        for fd in (self._death_fd, self._pidfd):
            if fd is not None:
                os.close(fd)
        self._death_fd = self._pidfd = None
        if self.cgroup is not None:
            self.cgroup.remove()
        if self.run_dir is not None:
            shutil.rmtree(self.run_dir, ignore_errors=True)
        self._close_channel()

    def _close_channel(self) -> None:
        """Close what talks to the sandbox (subclasses)."""

    # -- what happened ----------------------------------------------------------
    def exit_reason(self) -> str:
        """Why the job ended, in words a student can act on."""
        if self.cgroup is not None and self.cgroup.oom_kills():
            return (f"its processes together used more than the {self.memory_mb:,} MB memory "
                    "limit and were stopped")
        if self.cgroup is not None and self.cgroup.hit_pids_limit():
            return f"it tried to run more than {self.pids_max:,} processes at once"
        code = None if self.popen is None else self.popen.poll()
        if code is not None and code != 0:
            signum = -code if code < 0 else code - 128 if code > 128 else None
            if signum is not None:
                try:
                    return _SIGNAL_MEANING.get(signal.Signals(signum),
                                               f"it was stopped by signal {signum}")
                except ValueError:
                    pass
            return f"it exited with status {code}"
        if self._stopped_by_us:
            return "it was stopped (time limit)"
        return "it exited"

    def usage(self) -> dict[str, float]:
        """CPU seconds and peak memory of the whole job, when its cgroup tells."""
        out: dict[str, float] = {}
        if self.cgroup is not None:
            cpu = self.cgroup.cpu_seconds()
            peak = self.cgroup.memory_peak()
            if cpu is not None:
                out["cpu_s"] = round(cpu, 4)
            if peak is not None:
                out["memory_peak_mb"] = round(peak / 2**20, 1)
        return out

    def inside(self, path: str) -> Path:
        """The host path of ``path`` as the job sees it."""
        if self.root_pid is None:
            raise GradingError("this sandbox has no root process")
        return Path(f"/proc/{self.root_pid}/root{path}")

    def memory(self) -> dict[str, int]:
        """RSS and PSS in bytes over the job's processes (for measurements)."""
        totals = {"rss": 0, "pss": 0}
        pids = self.cgroup.pids() if self.cgroup is not None else (
            {self.root_pid} if self.root_pid else set())
        for pid in pids:
            try:
                for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                    key, _, value = line.partition(":")
                    if key in ("Rss", "Pss"):
                        totals[key.lower()] += int(value.split()[0]) * 1024
            except (OSError, ValueError):
                continue
        return totals


class KernelSandbox(Sandbox):
    """An IPython kernel in a sandbox, ready once `wait_ready` returns."""

    kind = "kernel"

    def __init__(self, *, connection: dict[str, Any], channel: int | None = None,
                 answers_dir: str = ANSWERS_DIR, data_paths: dict[str, str] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        #: The connection file's content as the kernel sees it (ipc paths inside).
        self.connection = connection
        #: Where the kernel writes answers, as the kernel sees it.
        self.answers_dir = answers_dir
        #: Data file names → where the kernel reads them (set by `mount_data`).
        self.data_paths: dict[str, str] = dict(data_paths or {})
        self._channel = channel

    def client_connection(self) -> dict[str, Any]:
        """The connection info for the grader's client: the same sockets, seen from outside."""
        info = dict(self.connection)
        if self.root_pid is not None and self.connection["ip"].startswith(KERNEL_DIR):
            info["ip"] = str(self.inside(self.connection["ip"]))
        return info

    def answers_location(self) -> tuple[Path, str]:
        """(a folder the grader opens, the answers' path below it, each part read without links).

        Inside a sandbox the student's code may replace any part of the path
        with a link, so only the sandbox's root is opened as a path.
        """
        if self.root_pid is not None:
            return self.inside("/"), self.answers_dir.lstrip("/") + "/"
        return Path(self.answers_dir), ""

    def mount_data(self, files: dict[str, tuple[int, str]], timeout: float = 10.0) -> None:
        """Bind data files read-only at ``/data/<name>`` in a kernel forked ahead of demand.

        ``files`` maps a file name to (index of its data folder, path inside it).
        Only kernels of the zygote sandbox do this; the others were started
        with what they may read.
        """
        if not files:
            return
        if self._channel is None:
            raise GradingError("this sandbox cannot bind data files after its start")
        request = {"mount": [[name, index, rel] for name, (index, rel) in files.items()]}
        send_frame(self._channel, json.dumps(request).encode())
        ready, _, _ = select.select([self._channel], [], [], timeout)
        reply = json.loads(recv_frame(self._channel, 1 << 16) or b"{}") if ready else {}
        if not reply.get("ok"):
            raise GradingError(f"could not give the sandbox its data files: "
                               f"{reply.get('error', 'no answer')}")
        self.data_paths.update({name: f"/data/{name}" for name in files})

    def checks(self, timeout: float) -> CheckSandbox:
        """Turn this sandbox over to the submission's checks once its kernel is done.

        Only the zygote's kernels can: their PID 1, which never ran job code,
        ends every process of the job, gives the sandbox fresh scratch space and
        forks a clean process for the checks (`zygote._checks_after_kernel`).
        Saves starting a second sandbox for each submission.
        """
        if self._channel is None:
            raise GradingError("this sandbox cannot run checks after its kernel")
        send_frame(self._channel, json.dumps({"checks": True}).encode())
        ready, _, _ = select.select([self._channel], [], [], timeout)
        reply = json.loads(recv_frame(self._channel, 1 << 16) or b"{}") if ready else {}
        if not reply.get("ready"):
            raise GradingError("the sandbox did not turn to the checks")
        return CheckSandbox(write_fd=self._channel, read_fd=self._channel, owner=self,
                            data_paths=self.data_paths, launcher=self.launcher,
                            root_pid=None, death_fd=-1, cgroup=None)

    def wait_ready(self, timeout: float) -> None:
        """Block until the kernel replies to ``kernel_info`` (its preload has run by then).

        Plain blocking zmq and a `Session`: no asyncio loop is created, so pool
        threads leave nothing behind.
        """
        info = self.client_connection()
        session = Session(key=info["key"].encode(), signature_scheme=info["signature_scheme"])
        socket = zmq.Context.instance().socket(zmq.DEALER)
        socket.linger = 0
        deadline = time.monotonic() + timeout
        try:
            address = f"{info['ip']}-{info['shell_port']}"
            while not os.path.exists(address):
                self._check_starting(deadline, timeout)
                time.sleep(0.005)
            socket.connect(f"ipc://{address}")
            sent: set[str] = set()
            last_sent = 0.0
            while True:
                self._check_starting(deadline, timeout)
                if time.monotonic() - last_sent > 1.0:
                    sent.add(session.send(socket, "kernel_info_request", {})["header"]["msg_id"])
                    last_sent = time.monotonic()
                if not socket.poll(50):
                    continue
                _, parts = session.feed_identities(socket.recv_multipart())
                reply = session.deserialize(parts, content=False)
                if reply["parent_header"].get("msg_id") in sent:
                    break
        finally:
            socket.close()
        self.ready_at = time.monotonic()

    def responsive(self, timeout: float) -> bool:
        """Whether the kernel's main thread answers ``kernel_info`` within ``timeout``.

        A cell that ignores the interrupt keeps the main thread busy, and the
        shell channel unanswered: the caller then kills the sandbox.
        """
        info = self.client_connection()
        session = Session(key=info["key"].encode(), signature_scheme=info["signature_scheme"])
        socket = zmq.Context.instance().socket(zmq.DEALER)
        socket.linger = 0
        try:
            socket.connect(f"ipc://{info['ip']}-{info['shell_port']}")
            msg_id = session.send(socket, "kernel_info_request", {})["header"]["msg_id"]
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.is_alive():
                if not socket.poll(50):
                    continue
                _, parts = session.feed_identities(socket.recv_multipart())
                if session.deserialize(parts, content=False)["parent_header"].get(
                        "msg_id") == msg_id:
                    return True
            return False
        finally:
            socket.close()

    def _check_starting(self, deadline: float, timeout: float) -> None:
        if not self.is_alive():
            raise KernelStartError(f"the sandboxed kernel exited during start-up "
                                   f"({self.exit_reason()})")
        if time.monotonic() > deadline:
            raise KernelStartError(f"the sandboxed kernel was not ready within {timeout:.0f} s")

    def manager(self) -> Any:
        """The adapter nbclient/papermill use instead of a KernelManager."""
        from .kernels import SandboxKernelManager

        return SandboxKernelManager(self)

    def _close_channel(self) -> None:
        if self._channel is not None:
            os.close(self._channel)
            self._channel = None


class CheckSandbox(Sandbox):
    """A sandbox that runs one job's checks on plain values, then ends."""

    kind = "checks"

    def __init__(self, *, write_fd: int, read_fd: int, data_paths: dict[str, str] | None = None,
                 owner: Sandbox | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        #: Data file names → where the checks read them.
        self.data_paths: dict[str, str] = dict(data_paths or {})
        #: The sandbox these checks run in, when it is a kernel's (it owns every resource).
        self.owner = owner
        self._write_fd: int | None = write_fd
        self._read_fd: int | None = read_fd

    def run(self, header: dict[str, Any], blobs: list[bytes], timeout: float
            ) -> list[dict[str, Any]] | None:
        """Send the job, wait for its results; None when it timed out or died (then killed)."""
        assert self._write_fd is not None and self._read_fd is not None
        try:
            send_frame(self._write_fd, json.dumps({**header, "blobs": len(blobs)}).encode())
            for blob in blobs:
                send_frame(self._write_fd, blob)
        except OSError:
            return None
        ready, _, _ = select.select([self._read_fd], [], [], timeout)
        if not ready:
            (self.owner or self).stop()
            return None
        try:
            frame = recv_frame(self._read_fd, 50_000_000)
            results = json.loads(frame) if frame is not None else None
        except (OSError, ValueError):
            results = None
        return results if isinstance(results, list) else None

    def is_alive(self) -> bool:
        """Whether the checks' sandbox still runs."""
        return self.owner.is_alive() if self.owner is not None else super().is_alive()

    def kill(self) -> None:
        """Kill the sandbox and free it; one lent by a kernel is the kernel's to free."""
        if self.owner is not None:
            self.owner.kill()
            return
        super().kill()

    def _close_channel(self) -> None:
        for fd in {self._write_fd, self._read_fd} - {None}:
            os.close(fd)  # type: ignore[arg-type]
        self._write_fd = self._read_fd = None


def new_connection(ip: str) -> dict[str, Any]:
    """A fresh kernel connection file's content over ipc sockets at ``ip``-<n>."""
    return {
        "transport": "ipc", "ip": ip, "shell_port": 1, "iopub_port": 2, "stdin_port": 3,
        "control_port": 4, "hb_port": 5, "key": secrets.token_hex(16),
        "signature_scheme": "hmac-sha256", "kernel_name": "panlearn-sandbox",
    }

"""Sandboxes started by bubblewrap: a fresh interpreter each, where namespaces need it."""

from __future__ import annotations

import json
import logging
import os
import select
import subprocess
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .. import linux, sandbox
from ..cgroups import JobCgroup
from ..errors import KernelStartError
from ..inside import KERNEL_DIR
from ..sandboxes import CheckSandbox, KernelSandbox, new_connection
from ..settings import GradingSettings
from .base import Launcher

log = logging.getLogger(__name__)


#: Where the package lives: sandboxes import `panlearn.grading.core.inside` from it (read-only).
#: Found from this file (panlearn/grading/core/launchers/) rather than by importing the
#: package root, which would tie the core to the app factory.
PACKAGE_DIR = Path(__file__).resolve().parents[3]


class BubblewrapLauncher(Launcher):
    """A fresh interpreter per sandbox, confined by bubblewrap (the fallback)."""

    name = "bubblewrap"

    def __init__(self, settings: GradingSettings) -> None:
        super().__init__(settings)
        self.bwrap = sandbox.resolve_bwrap(settings)
        sandbox.font_cache(settings)  # built once, before any sandbox starts
        #: The zygote's seccomp deny-list, compiled once, loaded by bubblewrap per sandbox.
        self.seccomp = linux.seccomp_program()

    def covers(self, paths: Iterable[Path]) -> bool:
        """Kernels started ahead of demand see the whole data folders, read-only."""
        return super().covers(paths)

    def _popen(self, argv: list[str], *, files: Iterable[Path], cgroup: JobCgroup | None,
               uid: int | None, stdin: Any = subprocess.DEVNULL, stdout: Any = subprocess.DEVNULL
               ) -> tuple[subprocess.Popen[bytes], int, int]:
        info_r, info_w = os.pipe()
        death_r, death_w = os.pipe()
        seccomp = os.memfd_create("panlearn-seccomp", os.MFD_CLOEXEC)
        os.write(seccomp, self.seccomp)
        os.lseek(seccomp, 0, os.SEEK_SET)
        cmd = sandbox.bwrap_command(self.settings, argv, uid=uid, info_fd=info_w,
                                    seccomp_fd=seccomp,
                                    read_only=(*self.data_dirs, *files, PACKAGE_DIR))

        def join_cgroup() -> None:
            if cgroup is not None:
                cgroup.join()

        try:
            popen = subprocess.Popen(  # noqa: S603 - argv built from settings, no shell
                cmd, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE,
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                start_new_session=True, pass_fds=(info_w, death_w, seccomp),
                preexec_fn=join_cgroup if cgroup else None)
        finally:
            for fd in (info_w, death_w, seccomp):
                os.close(fd)
        assert popen.stderr is not None
        pid = _child_pid(info_r, self.settings.start_timeout_s)
        os.close(info_r)
        if pid is None:
            try:
                os.killpg(popen.pid, 9)
            except ProcessLookupError:
                pass
            if cgroup is not None:
                cgroup.kill()
            popen.wait()
            os.set_blocking(popen.stderr.fileno(), False)
            why = (popen.stderr.read(4000) or b"").decode("utf-8", "replace").strip()
            popen.stderr.close()
            os.close(death_r)
            raise KernelStartError(f"bubblewrap did not start the sandbox (status "
                                   f"{popen.returncode}): {why or 'no answer'}")
        # Nothing of the job may write to the grader's logs or disk: its stderr goes nowhere.
        popen.stderr.close()
        return popen, pid, death_r

    def start_kernel(self, preload: tuple[str, ...], files: Mapping[str, Path] | None = None
                     ) -> KernelSandbox:
        """Start ``python -m panlearn.grading.core.inside kernel`` in bubblewrap."""
        connection = new_connection(f"{KERNEL_DIR}/ipc")
        spec = {**self._kernel_spec(connection, preload)}
        cgroup = self._cgroup()
        argv = [self.settings.python, "-I", "-m", "panlearn.grading.core.inside", "kernel",
                json.dumps(spec)]
        paths = {name: Path(p).resolve() for name, p in (files or {}).items()}
        try:
            popen, pid, death = self._popen(argv, files=paths.values(), cgroup=cgroup,
                                            uid=self._job_uid())
        except BaseException:
            if cgroup is not None:
                cgroup.remove()
            raise
        return KernelSandbox(connection=connection, preload=tuple(preload),
                             data_paths={name: str(p) for name, p in paths.items()},
                             launcher=self.name, root_pid=pid, death_fd=death, cgroup=cgroup,
                             popen=popen, memory_mb=self.settings.memory_mb,
                             pids_max=self.settings.nproc)

    def start_checks(self, preload: tuple[str, ...], files: Mapping[str, Path] | None = None
                     ) -> CheckSandbox:
        """Start a check runner in bubblewrap; it reads its job on stdin."""
        cgroup = self._cgroup()
        argv = [self.settings.python, "-I", "-m", "panlearn.grading.core.inside", "checks"]
        paths = {name: Path(p).resolve() for name, p in (files or {}).items()}
        try:
            popen, pid, death = self._popen(argv, files=paths.values(), cgroup=cgroup,
                                            uid=self._job_uid(),
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        except BaseException:
            if cgroup is not None:
                cgroup.remove()
            raise
        assert popen.stdin is not None and popen.stdout is not None
        return CheckSandbox(write_fd=os.dup(popen.stdin.fileno()),
                            read_fd=os.dup(popen.stdout.fileno()), launcher=self.name,
                            data_paths={name: str(p) for name, p in paths.items()},
                            root_pid=pid, death_fd=death, cgroup=cgroup, popen=popen,
                            memory_mb=self.settings.memory_mb, pids_max=self.settings.nproc,
                            preload=tuple(preload))


def _child_pid(info_fd: int, timeout: float) -> int | None:
    """The sandbox's pid from bubblewrap's ``--info-fd`` JSON.

    bubblewrap writes the JSON in several pieces and dies of SIGPIPE if the
    reader goes away before the last one (leaving its half-made sandbox
    waiting for ever), so the whole document is read before the fd closes.
    """
    data = b""
    deadline = time.monotonic() + timeout
    while (remaining := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([info_fd], [], [], remaining)
        chunk = os.read(info_fd, 4096) if ready else b""
        data += chunk
        try:
            return int(json.loads(data)["child-pid"])
        except (ValueError, KeyError, TypeError):
            if not chunk:
                return None
    return None

"""No isolation at all (``PANLEARN_SANDBOX=none``): local authoring only, never a server."""

from __future__ import annotations

import json
import logging
import os
import secrets
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .. import sandbox
from ..environment import job_env
from ..sandboxes import CheckSandbox, KernelSandbox, new_connection
from .base import Launcher

log = logging.getLogger(__name__)


class UnconfinedLauncher(Launcher):
    """No isolation (``PANLEARN_SANDBOX=none``): kernels run as plain processes."""

    name = "none (unconfined)"

    def covers(self, paths: Iterable[Path]) -> bool:
        """Unconfined kernels read any path."""
        return True

    def _start(self, argv: list[str], run_dir: Path, **popen: Any
               ) -> tuple[subprocess.Popen[bytes], int]:
        death_r, death_w = os.pipe()
        try:
            popen.setdefault("env", job_env(str(run_dir)))
            process = subprocess.Popen(  # noqa: S603 - argv built from settings, no shell
                argv, cwd=run_dir, stderr=subprocess.DEVNULL, start_new_session=True,
                pass_fds=(death_w,), **popen)
        finally:
            os.close(death_w)
        return process, death_r

    def start_kernel(self, preload: tuple[str, ...], files: Mapping[str, Path] | None = None
                     ) -> KernelSandbox:
        """Start a kernel as a plain process with a run folder of its own."""
        run_dir = self.settings.work_dir / f"kernel-{secrets.token_hex(8)}"
        run_dir.mkdir(parents=True, mode=0o700)
        connection = new_connection(str(run_dir / "ipc"))
        spec = {**self._kernel_spec(connection, preload), "directory": str(run_dir)}
        fonts = sandbox.font_cache_dir(self.settings)
        popen, death = self._start([self.settings.python, "-m", "panlearn.grading.core.inside",
                                    "kernel", json.dumps(spec)], run_dir,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   env=job_env(str(run_dir), str(fonts) if fonts else None))
        return KernelSandbox(connection=connection, preload=tuple(preload),
                             answers_dir=str(run_dir / "answers"),
                             data_paths={name: str(Path(p).resolve())
                                         for name, p in (files or {}).items()},
                             launcher=self.name, root_pid=None, death_fd=death, cgroup=None,
                             popen=popen, run_dir=run_dir)

    def start_checks(self, preload: tuple[str, ...], files: Mapping[str, Path] | None = None
                     ) -> CheckSandbox:
        """Start a check runner as a plain process."""
        run_dir = self.settings.work_dir / f"checks-{secrets.token_hex(8)}"
        run_dir.mkdir(parents=True, mode=0o700)
        popen, death = self._start([self.settings.python, "-m", "panlearn.grading.core.inside",
                                    "checks"], run_dir, stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE)
        assert popen.stdin is not None and popen.stdout is not None
        return CheckSandbox(write_fd=os.dup(popen.stdin.fileno()),
                            read_fd=os.dup(popen.stdout.fileno()), launcher=self.name,
                            data_paths={name: str(Path(p).resolve())
                                        for name, p in (files or {}).items()},
                            root_pid=None, death_fd=death, cgroup=None, popen=popen,
                            run_dir=run_dir, preload=tuple(preload))

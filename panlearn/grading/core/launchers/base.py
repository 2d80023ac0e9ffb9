"""What every launcher shares: the job's environment, its cgroup, uid and limits."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..answers import EXTRACT_MODULE, EXTRACT_MODULE_SOURCE
from ..cgroups import CgroupRoot, CgroupUnavailable, JobCgroup
from ..sandboxes import CheckSandbox, KernelSandbox
from ..settings import GradingSettings

log = logging.getLogger(__name__)

#: Bytes in a megabyte (settings are in MB).
MB = 1024 * 1024


class Launcher:
    """What every launcher offers the pool."""

    name = "launcher"

    def __init__(self, settings: GradingSettings) -> None:
        self.settings = settings
        self.data_dirs = tuple(Path(p).resolve() for p in settings.data_dirs)
        self.cgroups: CgroupRoot | None = None
        self.weak_limits: list[str] = []
        if settings.cgroup != "off" or settings.sandbox != "none":
            try:
                self.cgroups = CgroupRoot.detect(settings.cgroup)
            except CgroupUnavailable as error:
                self.weak_limits.append(
                    f"memory and process count per submission (only per process): {error}")
        if os.geteuid() != 0:
            self.weak_limits.append("a uid per submission (the grader is not root)")

    # -- interface --------------------------------------------------------------
    def start_kernel(self, preload: tuple[str, ...], files: Mapping[str, Path] | None = None
                     ) -> KernelSandbox:
        """A kernel sandbox being started (call `wait_ready`), reading ``files`` at /data."""
        raise NotImplementedError

    def start_checks(self, preload: tuple[str, ...], files: Mapping[str, Path] | None = None
                     ) -> CheckSandbox:
        """A sandbox waiting for one job's checks, reading ``files`` like the kernel."""
        raise NotImplementedError

    def late_mounts(self) -> bool:
        """Whether kernels started ahead of demand can be given their data files later."""
        return False

    def warm(self, preloads: Sequence[tuple[str, ...]]) -> int:
        """Prepare ahead what sandboxes preloading these need, the most asked first.

        Returns how many things were prepared (none here).
        """
        return 0

    def checks_in_kernel_sandbox(self) -> bool:
        """Whether a submission's checks run in its kernel's sandbox once the kernel is done."""
        return False

    def data_location(self, path: Path) -> tuple[int, str] | None:
        """(data folder index, path inside it) of a file under a configured data folder."""
        resolved = Path(path).resolve()
        for index, folder in enumerate(self.data_dirs):
            if folder in resolved.parents:
                return index, resolved.relative_to(folder).as_posix()
        return None

    def covers(self, paths: Iterable[Path]) -> bool:
        """Whether a kernel started ahead of demand can read every one of ``paths``."""
        return all(self.data_location(p) is not None for p in paths)

    def describe(self) -> str:
        """One line for the start-up log: the sandbox, where cgroups go, what is weak."""
        cg = self.cgroups.describe() if self.cgroups else "no cgroup"
        return f"{self.name} sandbox, {cg}"

    def close(self) -> None:
        """Stop anything the launcher keeps running."""
        if self.cgroups is not None:
            self.cgroups.close()

    # -- helpers ------------------------------------------------------------------
    def _cgroup(self) -> JobCgroup | None:
        if self.cgroups is None:
            return None
        return self.cgroups.create(memory_bytes=self.settings.memory_mb * MB,
                                   pids_max=self.settings.nproc)

    def _job_uid(self) -> int | None:
        if os.geteuid() != 0 or self.settings.sandbox == "none":
            return None
        return self.settings.uid_base + secrets.randbelow(self.settings.uid_count)

    def _limits(self, address_space: int | None) -> dict[str, Any]:
        s = self.settings
        return {"tmp_bytes": s.disk_mb * MB, "answers_bytes": 2 * s.max_answer_bytes,
                "address_space": address_space, "cpu_s": s.cpu_s,
                "nproc": s.nproc, "fsize": s.fsize_mb * MB, "nofile": s.nofile}

    def _kernel_spec(self, connection: dict[str, Any], preload: Iterable[str]) -> dict[str, Any]:
        return {"connection": connection, "extract_module": EXTRACT_MODULE,
                "extract_source": EXTRACT_MODULE_SOURCE, "preload": list(preload)}

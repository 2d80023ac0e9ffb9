"""CPU of the app under measure, shared by the bench scripts (`python -m bench` skips `_*.py`).

The app, its workers and their zygotes are long-lived: sampled from /proc.
Sandboxes live a fraction of a second: their time is read from the cgroups of
*this app's* workers (`panlearn-grading-<worker pid>-…`, whose cpuacct keeps
what removed jobs used), never from other graders on the machine.
"""

from __future__ import annotations

import threading
from pathlib import Path

import psutil


def tree() -> list[psutil.Process]:
    """This process (the app server) and all its descendants."""
    me = psutil.Process()
    return [me, *me.children(recursive=True)]


def in_a_job(process: psutil.Process) -> bool:
    """A sandbox process: its CPU is counted by its job's cgroup instead."""
    try:
        command = " ".join(process.cmdline())
        parent = process.parent()
        parent_command = " ".join(parent.cmdline()) if parent else ""
        name = process.name()
    except psutil.Error:
        return True
    zygote = "panlearn.grading.core.zygote"
    return ((zygote in command and zygote in parent_command)
            or "panlearn.grading.core.inside" in command or name in {"bwrap", "setpriv", "prlimit"})


def job_cgroups_cpu() -> float:
    """CPU seconds charged so far to the job cgroups of this process's grading workers."""
    pids = {str(child.pid) for child in psutil.Process().children()}
    total = 0
    for usage in Path("/sys/fs/cgroup/cpuacct").glob("**/panlearn-grading-*/cpuacct.usage"):
        if usage.parent.name.split("-")[2] not in pids:
            continue
        try:
            total += int(usage.read_text())
        except (OSError, ValueError):
            continue
    return total / 1e9


class CpuMeter:
    """CPU seconds of this app between enter and exit: its processes and its workers' jobs."""

    def __init__(self, period: float = 0.05) -> None:
        self.period = period
        self.seen: dict[tuple[int, float], float] = {}
        self.base: dict[tuple[int, float], float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> dict[tuple[int, float], float]:
        found = {}
        for process in tree():
            if in_a_job(process):
                continue
            try:
                times = process.cpu_times()
                found[(process.pid, process.create_time())] = times.user + times.system
            except psutil.Error:
                continue
        return found

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            self.seen.update(self._sample())

    def __enter__(self) -> CpuMeter:
        self.jobs_before = job_cgroups_cpu()
        self.base = self._sample()
        self.seen.update(self.base)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.seen.update(self._sample())
        self.jobs_after = job_cgroups_cpu()

    def used(self) -> float:
        """CPU seconds used between enter and exit."""
        processes = sum(v - self.base.get(k, 0.0) for k, v in self.seen.items())
        return processes + self.jobs_after - self.jobs_before

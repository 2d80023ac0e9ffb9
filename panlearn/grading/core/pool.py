"""Sandboxes started ahead of demand: warm kernels and check sandboxes for one worker.

Every sandbox serves one job and is then killed, so nothing leaks between
students. With the zygote launcher a sandbox costs a fork and an isolation
(tens of milliseconds); the pool still forks them before the submission
arrives, so a student waits only for their own code. Waiting submissions are
served by priority (interactive before bulk regrades), then in arrival order.

What a sandbox preloads follows what is asked of the pool: each submission
names the modules its exercise imports (read from the author's notebook, never
from a submission), takes the warm sandbox that preloaded them (or the closest
one, which imports the rest itself), and the one started to replace it
preloads the same. With the zygote launcher each preload set is an exercise
environment with a zygote of its own.

Data files: a kernel forked ahead of demand by the zygote gets the job's files
bound at ``/data/<name>`` when it is taken; bubblewrap's kernels see the data
folders read-only; a file outside them gets a kernel started for it.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from enum import IntEnum
from pathlib import Path

from .errors import GradingError
from .launchers import make_launcher
from .launchers.base import Launcher
from .sandboxes import CheckSandbox, KernelSandbox, Sandbox
from .settings import GradingSettings

log = logging.getLogger(__name__)


class Priority(IntEnum):
    """Lower values are served first."""

    INTERACTIVE = 0
    BULK = 10


#: Most module names a sandbox preloads on top of ``settings.preload_modules``.
MAX_LEARNED_MODULES = 24

#: How many recent requests decide what the next sandboxes preload.
DEMAND_MEMORY = 16

KINDS = ("kernel", "checks")


class KernelPool:
    """Keeps ``size`` kernels and a check sandbox warm for one worker process."""

    def __init__(self, settings: GradingSettings, size: int = 2, *,
                 launcher: Launcher | None = None, start_concurrency: int = 2) -> None:
        self.settings = settings
        self.size = size
        self._own_launcher = launcher is None
        self.launcher = launcher or make_launcher(settings)
        #: Check sandboxes kept warm: none for the zygote, which forks one with the job's files.
        self._warm_checks = 0 if self.launcher.late_mounts() else 1
        self._warm: dict[str, deque[Sandbox]] = {kind: deque() for kind in KINDS}
        self._starting = {kind: 0 for kind in KINDS}
        self._base = tuple(settings.preload_modules)
        #: Preload sets of recent requests, oldest first: sandboxes started next import these.
        self._demand: dict[str, deque[tuple[str, ...]]] = {
            kind: deque(maxlen=DEMAND_MEMORY) for kind in KINDS}
        self._last_wanted = {kind: self._base for kind in KINDS}
        self._waiters: list[tuple[int, int]] = []
        #: Submissions being graded with this pool's sandboxes right now (see `busy`).
        self._busy = 0
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._closed = False
        self._failures = 0
        self._executor = ThreadPoolExecutor(max_workers=start_concurrency,
                                            thread_name_prefix="sandbox-pool")
        self._fill()

    # -- public API -------------------------------------------------------
    @property
    def sandbox_name(self) -> str:
        """Which sandbox the pool's launcher uses (zygote, bubblewrap, none)."""
        return self.launcher.name

    def acquire_kernel(self, priority: int = Priority.INTERACTIVE, timeout: float | None = None,
                       modules: tuple[str, ...] = (),
                       files: Mapping[str, Path] | None = None) -> KernelSandbox:
        """A ready kernel that reads ``files`` (name → host path); the caller must `kill` it.

        ``modules`` are what the exercise imports: the warm kernel handed out
        is the one that preloaded most of them, and the one started in its
        place preloads them.
        """
        files = dict(files or {})
        wanted = self.preload_for(modules)
        late = self.launcher.late_mounts() and self.launcher.covers(files.values())
        if self.size == 0 or not (late or self.launcher.covers(files.values())):
            kernel = self.launcher.start_kernel(wanted, files)
            return self._ready(kernel)
        ticket = (int(priority), next(self._seq))
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._demand["kernel"].append(wanted)
            self._last_wanted["kernel"] = wanted
            heapq.heappush(self._waiters, ticket)
            try:
                while True:
                    if self._closed:
                        raise GradingError("the sandbox pool is closed")
                    if self._waiters[0] == ticket and self._warm["kernel"]:
                        kernel = self._closest("kernel", wanted)
                        if kernel.is_alive():
                            heapq.heappop(self._waiters)
                            break
                        self._executor.submit(kernel.kill)
                        continue
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        raise GradingError("no sandboxed kernel became available in time")
                    self._cond.wait(remaining if remaining is not None else 1.0)
            finally:
                if ticket in self._waiters:
                    self._waiters.remove(ticket)
                    heapq.heapify(self._waiters)
                self._fill_locked()
                self._cond.notify_all()
        assert isinstance(kernel, KernelSandbox)
        try:
            if late:
                kernel.mount_data({name: self.launcher.data_location(path)  # type: ignore[misc]
                                   for name, path in files.items()})
            else:
                kernel.data_paths.update({n: str(Path(p).resolve()) for n, p in files.items()})
        except BaseException:
            kernel.kill()
            raise
        return kernel

    def acquire_checks(self, modules: tuple[str, ...] = (),
                       files: Mapping[str, Path] | None = None) -> CheckSandbox:
        """A check sandbox waiting for its job, reading ``files``; the caller kills it.

        The zygote forks one with the job's files (a few milliseconds); the
        other launchers hand out a warm one when it sees the files.
        """
        files = dict(files or {})
        wanted = self.preload_for(modules)
        if not self._warm_checks or not self.launcher.covers(files.values()):
            return self.launcher.start_checks(wanted, files)
        found: Sandbox | None = None
        with self._cond:
            self._demand["checks"].append(wanted)
            self._last_wanted["checks"] = wanted
            for index, box in enumerate(self._warm["checks"]):
                if set(wanted) <= set(box.preload):
                    del self._warm["checks"][index]
                    found = box
                    break
            self._fill_locked()
        if isinstance(found, CheckSandbox) and found.is_alive():
            found.data_paths.update({n: str(Path(p).resolve()) for n, p in files.items()})
            return found
        if found is not None:
            self._executor.submit(found.kill)
        return self.launcher.start_checks(wanted, files)

    @contextmanager
    def busy(self) -> Iterator[None]:
        """Mark a submission being graded: replacement sandboxes start once it is done.

        A sandbox starting competes for the CPU with the submission being
        graded; on 2 cores that cost its latency. So while the caller grades,
        sandboxes start only if none is left warm; the others when it is done.
        """
        with self._cond:
            self._busy += 1
        try:
            yield
        finally:
            with self._cond:
                self._busy -= 1
                self._fill_locked()

    def warm(self, exercises: Iterable[tuple[str, ...]]) -> int:
        """Prepare the sandboxes of exercises importing these modules, ahead of demand.

        With the zygote launcher each environment's zygote starts now, so the
        first submissions of a class do not wait seconds for numpy, scipy or
        matplotlib to be imported (at most ``settings.zygotes`` of them, the
        most asked). Returns how many were prepared.
        """
        asked = Counter(self.preload_for(modules) for modules in exercises)
        if self._closed:
            return 0
        return self.launcher.warm([preload for preload, _ in asked.most_common()])

    def preload_for(self, modules: tuple[str, ...] | list[str]) -> tuple[str, ...]:
        """The preload set of a sandbox for an exercise importing ``modules``."""
        extra = sorted({m for m in modules if m not in self._base})[:MAX_LEARNED_MODULES]
        return (*self._base, *extra)

    def preloads(self, kind: str = "kernel") -> list[tuple[str, ...]]:
        """What each warm sandbox of ``kind`` preloaded (for tests and measurements)."""
        with self._cond:
            return [box.preload for box in self._warm[kind]]

    def ready_counts(self) -> tuple[int, int]:
        """(warm kernels, warm check sandboxes) right now."""
        with self._cond:
            return len(self._warm["kernel"]), len(self._warm["checks"])

    def wait_until_full(self, timeout: float = 120.0) -> bool:
        """Block until ``size`` kernels and a check sandbox are warm (for tests and benches)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while (len(self._warm["kernel"]) < self.size
                   or len(self._warm["checks"]) < self._warm_checks):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._closed:
                    return False
                self._cond.wait(remaining)
            return True

    def processes(self) -> list[Sandbox]:
        """The warm sandboxes (for measurements)."""
        with self._cond:
            return [*self._warm["kernel"], *self._warm["checks"]]

    def close(self) -> None:
        """Kill every warm sandbox, stop refilling, stop the launcher's zygotes."""
        with self._cond:
            self._closed = True
            victims = [*self._warm["kernel"], *self._warm["checks"]]
            for kind in KINDS:
                self._warm[kind].clear()
            self._cond.notify_all()
        self._executor.shutdown(wait=True, cancel_futures=True)
        for victim in victims:
            victim.kill()
        if self._own_launcher:
            self.launcher.close()

    def __enter__(self) -> KernelPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- choosing and refilling --------------------------------------------
    def _ready(self, kernel: KernelSandbox) -> KernelSandbox:
        try:
            kernel.wait_ready(self.settings.start_timeout_s)
        except BaseException:
            kernel.kill()
            raise
        return kernel

    def _closest(self, kind: str, wanted: tuple[str, ...]) -> Sandbox:
        """Remove and return the warm sandbox that best fits ``wanted`` (lock held)."""
        want = set(wanted)
        boxes = self._warm[kind]

        def fit(index: int) -> tuple[int, int, int]:
            have = set(boxes[index].preload)
            return len(want - have), len(have - want), index  # missing, surplus, oldest first

        best = min(range(len(boxes)), key=fit)
        box = boxes[best]
        del boxes[best]
        return box

    def _next_preload(self, kind: str) -> tuple[str, ...]:
        if self._demand[kind]:
            return self._demand[kind].popleft()
        return self._last_wanted[kind]

    def _fill(self) -> None:
        with self._cond:
            self._fill_locked()

    def _fill_locked(self) -> None:
        if self._closed or self.size == 0:
            return
        want = {"kernel": self.size + max(0, len(self._waiters) - len(self._warm["kernel"])),
                "checks": self._warm_checks}
        if self._busy and self._warm["kernel"] and not self._waiters:
            want = {"kernel": 0, "checks": 0}  # later: see `busy`
        for kind in KINDS:
            while len(self._warm[kind]) + self._starting[kind] < want[kind]:
                self._starting[kind] += 1
                self._executor.submit(self._start_one, kind, self._next_preload(kind))

    def _start_one(self, kind: str, preload: tuple[str, ...]) -> None:
        box: Sandbox | None = None
        try:
            if kind == "kernel":
                box = self._ready(self.launcher.start_kernel(preload))
            else:
                box = self.launcher.start_checks(preload)
        except Exception:
            log.exception("could not start a %s sandbox", kind)
            self._failures += 1
            time.sleep(min(30.0, 0.5 * 2 ** min(self._failures, 6)))  # back off, don't spin
        late: Sandbox | None = None
        with self._cond:
            self._starting[kind] -= 1
            if box is not None:
                self._failures = 0
                if self._closed:
                    late = box
                else:
                    self._warm[kind].append(box)
            self._fill_locked()
            self._cond.notify_all()
        if late is not None:
            late.kill()

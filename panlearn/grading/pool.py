"""A pool of single-use sandboxed kernels and check runners, started ahead of demand.

Kernel start-up (and importing numpy, h5py, scipy, matplotlib) dominates the
grading time of small exercises; the pool pays it before the submission
arrives. Every kernel serves one submission and is then killed, so nothing
leaks between students. Check runners are reused: each job runs in a child
forked from the runner's clean state (see `CheckRunner`). Waiting submissions
are served by priority (interactive before bulk regrades), then in arrival
order.

What a kernel imports ahead of demand follows what is asked of the pool: each
submission names the modules its exercise imports (fed from the author's
notebook, never from a submission), takes the warm kernel that already
imported them (or the closest one, which then imports the rest itself), and
the kernel started to replace it imports the same. So a worker grading a mix
of light NeXus exercises and matplotlib ones keeps a mix of light and heavy
kernels, instead of paying ~1 s of CPU per kernel for libraries most
submissions never use.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from enum import IntEnum
from pathlib import Path

from .errors import GradingError
from .kernels import CheckRunner, SandboxKernel, SandboxProcess
from .sandbox import resolve_bwrap
from .settings import GradingSettings

log = logging.getLogger(__name__)


class Priority(IntEnum):
    """Lower values are served first."""

    INTERACTIVE = 0
    BULK = 10


#: Most module names a kernel preloads on top of ``settings.preload_modules``
#: (a bound on what exercises can make the pool pay ahead of demand).
MAX_LEARNED_MODULES = 24

#: How many recent requests decide what the next kernels preload.
DEMAND_MEMORY = 16


class KernelPool:
    """Keeps ``size`` kernels and a reusable check runner warm for one worker process.

    Sandboxes bind ``settings.data_dirs`` read-only, so the pool serves
    submissions whose data files lie under those folders (see `covers`).
    """

    def __init__(
        self, settings: GradingSettings, size: int = 2, *, start_concurrency: int = 2
    ) -> None:
        resolve_bwrap(settings)  # refuse early, with the clear message
        self.settings = settings
        self.size = size
        self.read_only = tuple(Path(p).resolve() for p in settings.data_dirs)
        self._kernels: deque[SandboxKernel] = deque()
        self._runners: deque[CheckRunner] = deque()
        self._starting = {"kernel": 0, "runner": 0}
        self._runner_waiters = 0
        self._runners_out = 0
        self._base = tuple(settings.preload_modules)
        #: Preload sets of recent requests, oldest first: kernels started next import these.
        self._demand: deque[tuple[str, ...]] = deque(maxlen=DEMAND_MEMORY)
        self._last_wanted = self._base
        self._waiters: list[tuple[int, int]] = []
        #: Submissions being graded with this pool's sandboxes right now (see `busy`).
        self._busy = 0
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._closed = False
        self._failures = 0
        self._executor = ThreadPoolExecutor(
            max_workers=start_concurrency, thread_name_prefix="kernel-pool"
        )
        self._fill()

    # -- public API -------------------------------------------------------
    def covers(self, paths: Iterable[Path]) -> bool:
        """Whether every path is visible in the pool's sandboxes."""
        return all(any(r == p or r in p.parents for r in self.read_only) for p in map(Path, paths))

    def acquire_kernel(
        self,
        priority: int = Priority.INTERACTIVE,
        timeout: float | None = None,
        modules: Iterable[str] = (),
    ) -> SandboxKernel:
        """Take a warm kernel (blocking); it belongs to the caller, who must `kill` it.

        ``modules`` are what the exercise imports: the kernel handed out is the
        warm one that preloaded most of them (all, when one did), and the kernel
        started in its place preloads them.
        """
        wanted = self.preload_for(modules)
        ticket = (int(priority), next(self._seq))
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._demand.append(wanted)
            self._last_wanted = wanted
            heapq.heappush(self._waiters, ticket)
            try:
                while True:
                    if self._closed:
                        raise GradingError("the kernel pool is closed")
                    if self._waiters[0] == ticket and self._kernels:
                        kernel = self._closest(wanted)
                        if kernel.is_alive():
                            heapq.heappop(self._waiters)
                            return kernel
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

    def acquire_runner(self, timeout: float | None = None) -> CheckRunner:
        """Take a warm check runner (blocking); the caller must `kill` it."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._runner_waiters += 1
            try:
                while True:
                    if self._closed:
                        raise GradingError("the kernel pool is closed")
                    if self._runners:
                        runner = self._runners.popleft()
                        if runner.is_alive():
                            self._runners_out += 1
                            return runner
                        self._executor.submit(runner.kill)
                        continue
                    self._fill_locked()
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        raise GradingError("no check runner became available in time")
                    self._cond.wait(remaining if remaining is not None else 1.0)
            finally:
                self._runner_waiters -= 1
                self._fill_locked()

    def release_runner(self, runner: CheckRunner) -> None:
        """Give a runner back after a job; one that did not end cleanly is killed."""
        with self._cond:
            self._runners_out = max(0, self._runners_out - 1)
            keep = (
                not self._closed
                and runner.reusable
                and runner.is_alive()
                and len(self._runners) < self.size
            )
            if keep:
                self._runners.appendleft(runner)  # the warmest first
                self._cond.notify_all()
        if not keep:
            threading.Thread(target=runner.kill, daemon=True).start()
            self._fill()

    @contextmanager
    def busy(self) -> Iterator[None]:
        """Mark a submission being graded: replacement kernels start once it is done.

        A kernel starting (bwrap, Python, imports) competes for the CPU with the
        submission being graded, and on 2 cores that cost its latency ~10 ms. So
        while the caller grades, kernels are only started if none is left warm
        (someone would otherwise wait); the others start when it is done.
        """
        with self._cond:
            self._busy += 1
        try:
            yield
        finally:
            with self._cond:
                self._busy -= 1
                self._fill_locked()

    def preload_for(self, modules: Iterable[str]) -> tuple[str, ...]:
        """The preload set of a kernel for an exercise importing ``modules``."""
        extra = sorted({m for m in modules if m not in self._base})[:MAX_LEARNED_MODULES]
        return (*self._base, *extra)

    def preloads(self) -> list[tuple[str, ...]]:
        """What each warm kernel preloaded (for tests and measurements)."""
        with self._cond:
            return [kernel.preload for kernel in self._kernels]

    def ready_counts(self) -> tuple[int, int]:
        """(warm kernels, warm runners) right now."""
        with self._cond:
            return len(self._kernels), len(self._runners)

    def wait_until_full(self, timeout: float = 120.0) -> bool:
        """Block until the pool holds ``size`` warm kernels and a runner (for tests and benches)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._kernels) < self.size or len(self._runners) < 1:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._closed:
                    return False
                self._cond.wait(remaining)
            return True

    def processes(self) -> list[SandboxProcess]:
        """The warm sandboxes (for measurements)."""
        with self._cond:
            return [*self._kernels, *self._runners]

    def close(self) -> None:
        """Kill every warm sandbox and stop refilling."""
        with self._cond:
            self._closed = True
            victims: list[SandboxProcess] = [*self._kernels, *self._runners]
            self._kernels.clear()
            self._runners.clear()
            self._cond.notify_all()
        self._executor.shutdown(wait=True, cancel_futures=True)
        for victim in victims:
            victim.kill()

    def __enter__(self) -> KernelPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- choosing and refilling --------------------------------------------
    def _closest(self, wanted: tuple[str, ...]) -> SandboxKernel:
        """Remove and return the warm kernel that best fits ``wanted`` (lock held).

        One that preloaded everything wanted, the lightest such; otherwise the
        one that preloaded most of it (it imports the rest while it runs, which
        costs no more than a kernel started for it would).
        """
        want = set(wanted)

        def fit(index: int) -> tuple[int, int, int]:
            have = set(self._kernels[index].preload)
            return len(want - have), len(have - want), index  # missing, surplus, oldest first

        best = min(range(len(self._kernels)), key=fit)
        kernel = self._kernels[best]
        del self._kernels[best]
        return kernel

    def _next_preload(self) -> tuple[str, ...]:
        """What the next kernel to start should preload (lock held): the oldest unmet demand."""
        if self._demand:
            return self._demand.popleft()
        return self._last_wanted

    def _fill(self) -> None:
        with self._cond:
            self._fill_locked()

    def _fill_locked(self) -> None:
        if self._closed:
            return
        want_kernels = self.size + max(0, len(self._waiters) - len(self._kernels))
        if self._busy and self._kernels and not self._waiters:
            want_kernels = 0  # later: see `busy`
        while len(self._kernels) + self._starting["kernel"] < want_kernels:
            self._starting["kernel"] += 1
            self._executor.submit(self._start_one, "kernel", self._next_preload())
        # Runners come back after each job: one serves a worker that grades one
        # submission at a time; more start only while callers wait for one.
        want_runners = max(1, self._runners_out + self._runner_waiters)
        while len(self._runners) + self._starting["runner"] + self._runners_out < want_runners:
            self._starting["runner"] += 1
            self._executor.submit(self._start_one, "runner")

    def _start_one(self, kind: str, preload: tuple[str, ...] = ()) -> None:
        sandbox: SandboxProcess | None = None
        try:
            if kind == "kernel":
                sandbox = SandboxKernel.start(self.settings, self.read_only, preload)
            else:
                sandbox = CheckRunner.start(self.settings, self.read_only)
        except Exception:
            log.exception("could not start a sandboxed %s", kind)
            self._failures += 1
            time.sleep(min(30.0, 0.5 * 2 ** min(self._failures, 6)))  # back off, don't spin
        late: SandboxProcess | None = None
        with self._cond:
            self._starting[kind] -= 1
            if sandbox is not None:
                self._failures = 0
                if self._closed:
                    late = sandbox
                elif isinstance(sandbox, SandboxKernel):
                    self._kernels.append(sandbox)
                elif isinstance(sandbox, CheckRunner):
                    self._runners.append(sandbox)
            self._fill_locked()
            self._cond.notify_all()
        if late is not None:
            late.kill()

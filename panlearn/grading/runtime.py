"""Wiring grading into the app: settings, the worker loop, and the two dispatchers.

Embedded default: `LocalDispatcher` starts `PANLEARN_GRADING_WORKERS` worker
processes (papermill changes the working directory, so it never runs in a
request thread), each with its own pool of warm sandboxed kernels, fed from
the database and woken through a queue when a submission or a live run
arrives; the workers say back which runs they finished, so the request
waiting for one wakes at once (`FinishedRuns`). At scale, `PANLEARN_BROKER_URL`
selects `CeleryDispatcher`, and `flask worker` runs the very same
`process_submission` and `process_run` on Celery workers (a waiting request
then polls the database).
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask
from sqlalchemy import update

from panlearn.extensions import db
from panlearn.grading.core.settings import grading_settings
from panlearn.models import LiveRun, Submission, utcnow
from panlearn.wiring import services_of

log = logging.getLogger(__name__)


class LeaseKeeper:
    """Renews a claim while a worker grades (or runs cells), so only a dead worker's expires."""

    def __init__(self, app: Flask, submission_id: int, token: str, lease_s: float,
                 table: type[Submission] | type[LiveRun] = Submission) -> None:
        self.app, self.submission_id, self.token, self.lease_s = app, submission_id, token, lease_s
        self.table = table
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="lease-keeper")

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        from datetime import timedelta

        while not self._stop.wait(self.lease_s / 3):
            try:
                with self.app.app_context(), db.engine.begin() as connection:
                    connection.execute(
                        update(self.table)
                        .where(self.table.id == self.submission_id,
                               self.table.claim_token == self.token)
                        .values(lease_expires_at=utcnow() + timedelta(seconds=self.lease_s)))
            except Exception:  # the database restarts: keep trying, do not die silently
                log.warning("submission %s: could not renew the lease; retrying",
                            self.submission_id, exc_info=True)


def build_context(app: Flask, *, warm_kernels: int | None = None) -> Any:
    """A grading context for this process: its sandbox pool (warm kernels when asked for).

    A production grader that cannot enforce every per-submission limit (no
    cgroup it may create, not root) refuses to start, unless told otherwise
    (`PANLEARN_GRADING_WEAK_LIMITS`); the pool has logged which limits.
    """
    from panlearn.config import ConfigurationError
    from panlearn.grading.core.pool import KernelPool
    from panlearn.grading.jobs import GradingContext

    services = services_of(app)
    values = services.settings
    settings = grading_settings(values)
    size = values["GRADING_KERNELS"] if warm_kernels is None else warm_kernels
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    for folder in settings.data_dirs:
        folder.mkdir(parents=True, exist_ok=True)
    pool = KernelPool(settings, size=size)
    weak = pool.launcher.weak_limits
    if weak and values["ENV"] == "production" and not values["GRADING_WEAK_LIMITS"]:
        pool.close()
        raise ConfigurationError(
            "the grader cannot enforce " + "; ".join(weak) + ". Give it what it needs "
            "(docs/OPERATIONS.md, 'Limits per submission'), or accept this with "
            "PANLEARN_GRADING_WEAK_LIMITS=true")
    return GradingContext(settings=settings, datasets=services.datasets,
                          pool=pool, attempts=values["GRADING_ATTEMPTS"],
                          live_timeout_s=values["LIVE_TIMEOUT_S"],
                          grader_version=services.version, on_graded=services.graded_hooks)


def published_imports(app: Flask) -> list[tuple[str, ...]]:
    """What each published exercise imports (read from its author's notebook)."""
    from sqlalchemy import select

    from panlearn.grading.core.names import imported_modules
    from panlearn.grading.submissions import exercise_spec
    from panlearn.models import CourseVersion, Exercise, Lesson, Module, VersionStatus

    found: list[tuple[str, ...]] = []
    with app.app_context():
        exercises = db.session.scalars(
            select(Exercise).join(Exercise.lesson).join(Lesson.module)
            .join(Module.course_version)
            .where(CourseVersion.status == VersionStatus.PUBLISHED)).all()
        for exercise in exercises:
            try:
                found.append(imported_modules(exercise_spec(exercise).import_code))
            except Exception:  # noqa: BLE001 - a notebook grading would refuse anyway
                log.warning("grading warm-up: exercise %s has no readable spec", exercise.id)
        db.session.remove()
    return found


def start_warm_up(app: Flask, pool: Any) -> threading.Thread:
    """Prepare the sandboxes of the published exercises in the background.

    A worker's first submissions of each exercise environment would otherwise
    wait for its zygote to import the scientific stack (seconds); claiming
    work is not delayed by it.
    """
    def warm() -> None:
        try:
            count = pool.warm(published_imports(app))
            log.info("grading: %d exercise environments prepared", count)
        except Exception as error:  # noqa: BLE001 - the first submissions will start them
            log.info("grading warm-up stopped: %s", error)

    thread = threading.Thread(target=warm, name="grading-warm-up", daemon=True)
    thread.start()
    return thread


def grade_one(app: Flask, context: Any,
              finished: Callable[[int], object] | None = None) -> bool:
    """Claim the job whose turn it is (a submission or a live run) and do it.

    False when none can be taken. The database decides what comes next
    (`grading.queue`: turns between students, one running job each), for
    local workers and Celery alike. ``finished(run_id)`` is told of each live
    run done, so the request waiting for it can answer at once.
    """
    from datetime import timedelta

    from panlearn.grading.jobs import claim_next, process_submission
    from panlearn.grading.queue import RUN
    from panlearn.grading.runs import process_run

    lease_s = services_of(app).settings["GRADING_LEASE_S"]
    with app.app_context():
        claimed = claim_next(db.session, timedelta(seconds=lease_s), attempts=context.attempts)
        if claimed is None:
            db.session.remove()
            return False
        if claimed.kind == RUN:
            with LeaseKeeper(app, claimed.id, claimed.token, lease_s, table=LiveRun):
                process_run(db.session, claimed.id, context, token=claimed.token)
            if finished is not None:
                finished(claimed.id)
        else:
            with LeaseKeeper(app, claimed.id, claimed.token, lease_s):
                process_submission(db.session, claimed.id, context, token=claimed.token)
        db.session.remove()
    return True


def worker_loop(app: Flask, wake: Any = None, *, poll_s: float = 2.0,
                stop: threading.Event | None = None, finished: Any = None) -> None:
    """Grade until stopped: claim work from the database, sleep on `wake` when idle.

    Work left `queued`, or `running` under an expired lease by a crash, is
    claimed like any other, so starting a worker resumes it. The id of each
    live run done is put on ``finished`` (a queue read by the web process).
    """
    context = build_context(app)
    stop = stop or threading.Event()
    announce = finished.put if finished is not None else None
    warming: threading.Thread | None = None
    try:
        while not stop.is_set():
            try:
                if grade_one(app, context, announce):
                    continue
            except Exception:  # e.g. the database restarted: the claim stays, its lease expires
                log.exception("grading worker: error outside a grading run; carrying on")
                stop.wait(poll_s)
                continue
            if warming is None:  # first idle moment: what woke the worker is graded first
                warming = start_warm_up(app, context.pool)
            try:
                if wake is not None:
                    wake.get(timeout=poll_s)
                else:
                    stop.wait(poll_s)
            except queue.Empty:
                pass
    finally:
        if context.pool is not None:
            context.pool.close()


def _worker_process_main(app_factory: Callable[..., Flask], overrides: dict[str, Any], wake: Any,
                         finished: Any = None) -> None:
    """Entry point of a local worker process (spawned: a fresh interpreter).

    ``app_factory`` (`panlearn.create_app`, passed by reference) builds the
    worker's app: grading does not import the app factory.
    """
    logging.basicConfig(level=logging.INFO)
    # papermill and nbclient log every run at INFO ("Executing notebook…"): noise per submission.
    for name in ("papermill", "traitlets"):
        logging.getLogger(name).setLevel(logging.WARNING)
    stop = threading.Event()
    parent = multiprocessing.parent_process()  # its sentinel closes when the parent dies

    def _watch_parent() -> None:
        # A web process killed with -9 never stops its workers: they stop themselves (after
        # the submission in hand), instead of grading on as orphans beside its replacement's.
        while not stop.wait(2.0):
            if parent is not None and not parent.is_alive():
                log.warning("grading worker: web process %s is gone; stopping", parent.pid)
                stop.set()

    threading.Thread(target=_watch_parent, daemon=True, name="parent-watch").start()
    worker_loop(app_factory(overrides), wake, stop=stop, finished=finished)


class FinishedRuns:
    """Live runs this process's workers have finished: a request waiting for one wakes at once.

    The database stays the truth (a run may be done by another process's
    worker, or by Celery): `wait` only shortens the wait between two looks at
    the run's row.
    """

    KEEP = 1000

    def __init__(self) -> None:
        self._done: OrderedDict[int, None] = OrderedDict()
        self._cond = threading.Condition()

    def announce(self, run_id: int) -> None:
        """A worker finished this run."""
        with self._cond:
            self._done[run_id] = None
            while len(self._done) > self.KEEP:
                self._done.popitem(last=False)
            self._cond.notify_all()

    def wait(self, run_id: int, timeout: float) -> bool:
        """Block until the run is announced, at most ``timeout`` seconds."""
        with self._cond:
            return self._cond.wait_for(lambda: run_id in self._done, timeout)


class LocalDispatcher:
    """Worker processes inside the app, fed from the database; started on first use.

    Each worker builds its own app with ``app_factory`` from these ``settings``.
    """

    def __init__(self, settings: Mapping[str, Any], *, app_factory: Callable[..., Flask]) -> None:
        self.settings, self.app_factory = settings, app_factory
        self.size = settings["GRADING_WORKERS"]
        self._context = multiprocessing.get_context("spawn")
        self._wake: Any = None
        self._finished_queue: Any = None
        #: Runs the workers finished; `grading.runs.wait_for_run` waits on it.
        self.finished = FinishedRuns()
        self._processes: list[Any] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the worker processes (idempotent); they resume unfinished work."""
        with self._lock:
            self._processes = [p for p in self._processes if p.is_alive()]
            if len(self._processes) >= self.size:
                return
            if self._wake is None:
                self._wake = self._context.Queue()
                self._finished_queue = self._context.Queue()
                threading.Thread(target=self._listen, args=(self._finished_queue,),
                                 daemon=True, name="finished-runs").start()
            overrides = dict(self.settings)
            while len(self._processes) < self.size:
                process = self._context.Process(target=_worker_process_main,
                                                args=(self.app_factory, overrides, self._wake,
                                                      self._finished_queue),
                                                daemon=True, name="panlearn-grader")
                process.start()
                self._processes.append(process)

    def _listen(self, finished: Any) -> None:
        while True:
            try:
                self.finished.announce(finished.get())
            except (EOFError, OSError):  # the queue is gone with the process
                return

    def enqueue(self, submission_id: int) -> None:
        """Wake a worker for a committed job, a submission or a run (the database is the queue)."""
        self.start()
        if self._wake is not None:  # no workers configured: it waits for `flask worker`
            self._wake.put(submission_id)

    def wake_on_finish(self, run_id: int, timeout: float) -> bool:
        """Wait until a local worker finished the run, at most ``timeout`` seconds."""
        return self.finished.wait(run_id, timeout)

    def stop(self) -> None:
        """Stop the worker processes (their unfinished work stays claimable)."""
        with self._lock:
            for process in self._processes:
                process.terminate()
            for process in self._processes:
                process.join(timeout=10)
            self._processes = []


class CeleryDispatcher:
    """Hands committed submissions to Celery workers through the broker."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def start(self) -> None:
        """Nothing to start here: workers run as `flask worker`."""

    def enqueue(self, submission_id: int) -> None:
        """Send the grading task; a lost message is recovered by the workers' sweep."""
        from panlearn.grading.tasks import grade_submission

        try:
            grade_submission.delay(submission_id)
        except Exception:  # the broker is down: the submission stays queued in the database
            log.exception("could not reach the broker; submission %s stays queued",
                          submission_id)

    def stop(self) -> None:
        """Nothing to stop."""

    wake_on_finish = None  # a waiting request polls the database


def dispatcher_for(app: Flask, settings: Mapping[str, Any], *,
                   app_factory: Callable[..., Flask]) -> LocalDispatcher | CeleryDispatcher:
    """The dispatcher chosen by `PANLEARN_BROKER_URL` (Celery is pointed at the broker)."""
    if settings["BROKER_URL"]:
        from panlearn.grading.tasks import configure

        configure(settings["BROKER_URL"])
        return CeleryDispatcher(app)
    return LocalDispatcher(settings, app_factory=app_factory)

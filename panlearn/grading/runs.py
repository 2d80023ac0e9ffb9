"""Live runs on the app side: queue a learner's cells with the submissions, wait, run them.

A run is a job like a submission (see `grading.queue`): the request commits a
`LiveRun` row, wakes a worker, and waits for the row to be done; a worker
claims it in the queue's order (turns between students, one job running per
student) and runs the cells with `grading.core.live.run_cells`. So a class running
cells never starves grading, and a run goes to any worker, local or Celery,
because nothing is kept between runs.

1. `request_run` (the request): who may run (signed in, or anyone where
   `PANLEARN_LIVE_ANONYMOUS` allows), the lesson's student version and the
   learner's edits composed into the cells to run (`live.compose_run`: never
   the author's source), the learner's cap on waiting runs (counted behind
   `lock_student`, like submissions), then the row, committed.
2. `wait_for_run` (the request, after dispatch): polls the row (or is woken by
   the local workers) until it is done; gives the run up after `RunLimits.wait_s`,
   so a request never waits for ever behind a full queue.
3. `process_run` (a worker): the learner's own data files (as grading assigns
   them), the run, its outcome recorded if the claim is still ours.
"""

from __future__ import annotations

import copy
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import nbformat
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from panlearn.accounts.permissions import can_view_version
from panlearn.datasets.resolve import papermill_parameters, resolve_exercise_datasets
from panlearn.errors import (
    BusyError,
    NotFoundError,
    PanlearnError,
    RateLimitedError,
    UnauthorizedError,
)
from panlearn.grading.core.names import imported_modules
from panlearn.grading.reference import assignment_for, job_files
from panlearn.grading.submissions import exercise_spec, lock_student, source_notebook
from panlearn.models import Lesson, LiveRun, LiveRunState, User, utcnow
from panlearn.notebooks.canonical import canonical_json
from panlearn.notebooks.student import make_student_version

if TYPE_CHECKING:
    from panlearn.grading.core.live import LiveOutcome

# `grading.live` (the kernels, papermill) is imported where a run is composed, read or done:
# the pages and views that import this module for its limits need not load it.

log = logging.getLogger(__name__)

#: Finished runs are kept this long (the queue reads when each owner was last served).
KEEP = timedelta(minutes=10)
_FINISHED = (LiveRunState.DONE, LiveRunState.FAILED)


@dataclass(frozen=True)
class RunLimits:
    """How long a run may take, how many a learner may have going, who may run."""

    #: Time limit of one run (the cell and those above it), PANLEARN_LIVE_TIMEOUT_S.
    timeout_s: float = 10.0
    #: Runs one owner may have waiting or running, PANLEARN_LIVE_QUEUED_PER_STUDENT.
    waiting_per_owner: int = 2
    #: Whether visitors who are not signed in may run cells, PANLEARN_LIVE_ANONYMOUS.
    anonymous: bool = False

    @property
    def wait_s(self) -> float:
        """How long a request waits for its run: the run itself and a full queue's turn."""
        return self.timeout_s + 20.0


def run_limits(settings: dict[str, Any]) -> RunLimits:
    """The limits the settings give (`PANLEARN_LIVE_*`)."""
    return RunLimits(timeout_s=settings["LIVE_TIMEOUT_S"],
                     waiting_per_owner=settings["LIVE_QUEUED_PER_STUDENT"],
                     anonymous=settings["LIVE_ANONYMOUS"])


# -- the request ----------------------------------------------------------------------

#: Parsed notebooks by (lesson notebook sha256, version): content-addressed, never stale.
_notebooks: OrderedDict[tuple[str, str], Any] = OrderedDict()
_lock = threading.Lock()


def _notebook(lesson: Lesson, version: str) -> Any:
    """The lesson's notebook, parsed once per process ("source" or "student"); do not change it."""
    key = (lesson.notebook_hash, version)
    with _lock:
        found = _notebooks.get(key)
        if found is not None:
            _notebooks.move_to_end(key)
            return found
    found = nbformat.reads(lesson.notebook.content.decode("utf-8"), as_version=4)
    if version == "student":
        found = make_student_version(found)
    with _lock:
        _notebooks[key] = found
        while len(_notebooks) > 128:
            _notebooks.popitem(last=False)
    return found


def student_notebook(lesson: Lesson) -> Any:
    """The lesson's student version (cached by notebook hash; a fresh copy each time)."""
    return copy.deepcopy(_notebook(lesson, "student"))


def may_run(viewer: User | None, limits: RunLimits) -> None:
    """Raise `UnauthorizedError` unless the viewer may run cells at all."""
    if viewer is None and not limits.anonymous:
        raise UnauthorizedError("Sign in to run cells.")


def request_run(session: Session, lesson: Lesson, viewer: User | None, notebook: Any,
                cell_id: str, *, limits: RunLimits, all_outputs: bool = False) -> LiveRun:
    """Queue a run of ``cell_id`` and the cells above it, as ``notebook`` has them.

    Raises 401 (not signed in), 404 (a lesson the viewer may not see, an
    unknown cell), 400 (not a code cell, a malformed notebook), 429 (the
    learner already has `waiting_per_owner` runs going). Commits the run.
    """
    from panlearn.grading.core.live import compose_run

    may_run(viewer, limits)
    if not can_view_version(viewer, lesson.module.course_version):
        raise NotFoundError(f"No lesson {lesson.id}.")
    cells = compose_run(student_notebook(lesson), notebook, cell_id)
    owner = viewer.id if viewer is not None else 0
    now = utcnow()
    if owner:
        lock_student(session, owner)  # the count below decides, as for submissions
    going = session.scalar(select(func.count(LiveRun.id)).where(
        LiveRun.owner == owner, LiveRun.state.in_((LiveRunState.QUEUED, LiveRunState.RUNNING)),
        LiveRun.created_at > now - timedelta(seconds=limits.wait_s + 60)))
    if going >= limits.waiting_per_owner:
        session.rollback()
        raise RateLimitedError(
            f"You have {going} runs waiting or running; at most {limits.waiting_per_owner} at "
            "once. Run again when they are done.", retry_after=1)
    session.execute(delete(LiveRun).where(LiveRun.created_at < now - KEEP,
                                          LiveRun.state.in_(_FINISHED)))
    run = LiveRun(lesson_id=lesson.id, user_id=viewer.id if viewer else None, owner=owner,
                  cell_id=cell_id, outputs_of="all" if all_outputs else "cell",
                  state=LiveRunState.QUEUED, notebook=canonical_json(cells), created_at=now)
    session.add(run)
    session.commit()
    return run


@dataclass(frozen=True)
class FinishedRun:
    """A run as the request reads it back: its outcome, or why it failed."""

    id: int
    state: LiveRunState
    outcome: LiveOutcome | None
    error: str | None
    #: Milliseconds from the request's commit to the outcome being read.
    ms: int


def wait_for_run(session: Session, run: LiveRun, limits: RunLimits,
                 wake: Callable[[int, float], object] | None = None) -> FinishedRun:
    """Wait until a worker has done ``run``; `BusyError` (503) after `limits.wait_s`.

    ``wake(run_id, seconds)`` returns early when the local workers say the run
    is done (`runtime.FinishedRuns`); without it (Celery) the row is polled
    every 20 to 100 ms. A run given up while still queued is marked failed,
    so no worker spends time on it.
    """
    from panlearn.grading.core.live import LiveOutcome

    run_id, created = run.id, run.created_at
    deadline = time.monotonic() + limits.wait_s
    interval = 0.02
    while True:
        row = session.execute(select(LiveRun.state, LiveRun.result, LiveRun.error,
                                     LiveRun.finished_at).where(LiveRun.id == run_id)).one_or_none()
        session.rollback()  # end the read: the next poll sees what workers committed since
        if row is None:
            raise NotFoundError(f"No run {run_id}.")
        if row.state in _FINISHED:
            outcome = LiveOutcome.from_dict(row.result) if row.result else None
            ms = math.ceil((utcnow() - created).total_seconds() * 1000)
            return FinishedRun(run_id, row.state, outcome, row.error, ms)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        if wake is not None:
            wake(run_id, min(remaining, 0.25))
        else:
            time.sleep(min(remaining, interval))
            interval = min(0.1, interval * 1.5)
    session.execute(update(LiveRun).where(LiveRun.id == run_id,
                                          LiveRun.state == LiveRunState.QUEUED)
                    .values(state=LiveRunState.FAILED, finished_at=utcnow(),
                            error="given up: no worker took it in time"))
    session.commit()
    raise BusyError(f"Every grading worker is busy; your cells did not get a turn within "
                    f"{limits.wait_s:g} s. Run them again in a moment.", retry_after=5)


# -- the worker -----------------------------------------------------------------------

def lesson_datasets(lesson: Lesson) -> list[dict[str, Any]]:
    """The data files a lesson names: an exercise's, or a reading lesson's notebook metadata."""
    if lesson.exercise is not None:
        return list(lesson.exercise.datasets or [])
    source = _notebook(lesson, "source")
    return list((source.get("metadata", {}).get("panlearn") or {}).get("datasets") or [])


def lesson_modules(lesson: Lesson) -> tuple[str, ...]:
    """What the run's kernel should preload: what grading preloads for an exercise."""
    from panlearn.grading.core.live import notebook_modules

    if lesson.exercise is not None:
        return imported_modules(exercise_spec(lesson.exercise,
                                              source_notebook(lesson.exercise)).import_code)
    return notebook_modules(_notebook(lesson, "source"))


def process_run(session: Session, run_id: int, context: Any, token: str) -> bool:
    """Run a claimed run's cells and record the outcome; True when this call recorded it.

    The files are the learner's own (`reference.assignment_for`, as grading
    assigns them; anonymous viewers get the first choice), bound read-only.
    A platform failure records the run `failed` with the reason; whatever the
    learner's code does is an outcome.
    """
    from panlearn.grading.core.live import run_cells

    run = session.get(LiveRun, run_id)
    if run is None:
        return False
    lesson = run.lesson
    try:
        assignment = (assignment_for(lesson.exercise, run.user_id)
                      if lesson.exercise is not None else None)
        resolved = resolve_exercise_datasets(lesson_datasets(lesson),
                                             registry=context.datasets.registry,
                                             cache=context.datasets.file_cache,
                                             assignment=assignment)
        cells = nbformat.reads(run.notebook.decode("utf-8"), as_version=4)
        settings = replace(context.settings, cell_timeout_s=context.live_timeout_s,
                           total_timeout_s=context.live_timeout_s)
        outcome = run_cells(cells, run.cell_id, parameters=papermill_parameters(resolved),
                            data_files=job_files(resolved), settings=settings,
                            pool=context.pool, modules=lesson_modules(lesson),
                            all_outputs=run.outputs_of == "all")
    except PanlearnError as error:
        log.warning("live run %s: %s", run_id, error.detail)
        return _record(session, run_id, token, state=LiveRunState.FAILED, error=error.detail)
    except Exception as error:  # a bug of ours: say so, never leave the request waiting
        log.exception("live run %s: unexpected error", run_id)
        return _record(session, run_id, token, state=LiveRunState.FAILED,
                       error=f"{type(error).__name__}: {error}")
    return _record(session, run_id, token, state=LiveRunState.DONE, result=outcome.to_dict())


def _record(session: Session, run_id: int, token: str, **values: Any) -> bool:
    """Store the outcome if the claim is still ours (a worker presumed dead may not)."""
    session.rollback()
    result = session.execute(
        update(LiveRun).where(LiveRun.id == run_id, LiveRun.claim_token == token,
                              LiveRun.state == LiveRunState.RUNNING)
        .values(finished_at=utcnow(), lease_expires_at=None, **values))
    session.commit()
    return result.rowcount == 1

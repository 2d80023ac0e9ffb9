"""Grading jobs: claim a submission, grade it, record the result exactly once.

The same `process_submission` runs in the in-app worker processes and on
Celery workers. Claiming is one conditional UPDATE (a submission that is
queued, or running with an expired lease; whose student has no other
submission running; that has attempts left), so two workers never grade the
same submission, nor two of one student's, at once; recording is conditional
on the claim token, so a worker whose lease was taken over (it hung, or was
presumed dead) cannot overwrite the result of the one that took over. A
worker killed mid-grading leaves an expired lease behind, and the submission
is claimed again.

Every claim is an attempt, one whose worker died included. A submission that
used up `PANLEARN_GRADING_ATTEMPTS` without a result is settled as `failed`
with the reason (`settle_exhausted`), so a notebook that kills its worker, or
a result that cannot be recorded, is never graded for ever. What the student's
notebook causes ends `graded`: the pipeline turns it into failed checks, and a
notebook it left unstorable is recorded without its feedback notebook.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any, NamedTuple

from nbformat import NotebookNode
from sqlalchemy import Select, bindparam, select, update
from sqlalchemy.orm import Session

from panlearn.config import default
from panlearn.datasets.resolve import (
    ResolvedDataset,
    papermill_parameters,
    resolve_exercise_datasets,
)
from panlearn.datasets.settings import DatasetsContext
from panlearn.errors import PanlearnError
from panlearn.grading.core import pipeline
from panlearn.grading.core.answers import ReferenceAnswers
from panlearn.grading.core.pipeline import GradingOutcome, grade_notebook
from panlearn.grading.core.pool import KernelPool
from panlearn.grading.core.settings import GradingSettings
from panlearn.grading.core.spec import ExerciseSpec
from panlearn.grading.feedback import storable_notebook
from panlearn.grading.hooks import SubmissionHook, publish
from panlearn.grading.queue import (
    NOW,
    RUN,
    SUBMISSION,
    JobTable,
    in_turn,
    owner_of,
    queue_order,
    student_busy,
    waiting,
)
from panlearn.grading.reference import (
    assignment_for,
    checksums_of,
    job_files,
    load_reference_answers,
    store_reference_answers,
)
from panlearn.grading.submissions import exercise_spec, lock_student, source_notebook
from panlearn.models import (
    CheckResult,
    GradingRun,
    LiveRun,
    LiveRunState,
    Submission,
    SubmissionState,
    store_notebook_blob,
    utcnow,
)

log = logging.getLogger(__name__)


@dataclass
class GradingContext:
    """What a worker needs to grade: limits, data, and (optionally) warm kernels."""

    settings: GradingSettings
    datasets: DatasetsContext
    pool: KernelPool | None = None
    worker: str = f"{socket.gethostname()}:{os.getpid()}"
    #: Claims of one submission before it is settled as failed (PANLEARN_GRADING_ATTEMPTS).
    attempts: int = default("GRADING_ATTEMPTS")
    #: Time limit of a live run (PANLEARN_LIVE_TIMEOUT_S).
    live_timeout_s: float = default("LIVE_TIMEOUT_S")
    #: The grader's version, recorded on each run (the app's `panlearn.__version__`).
    grader_version: str = "unknown"
    #: Run after each graded result is committed (progress, LTI passback: `panlearn.wiring`).
    on_graded: tuple[SubmissionHook, ...] = ()

    @property
    def lease(self) -> timedelta:
        """How long a claim holds: the whole run's limit plus a margin for set-up."""
        return timedelta(seconds=self.settings.total_timeout_s + 60)


class Claim(NamedTuple):
    """A job this worker holds: its id, the claim token, and its kind (submission or run)."""

    id: int
    token: str
    kind: str = SUBMISSION


_STATES = {Submission: (SubmissionState.RUNNING, SubmissionState.FAILED),
           LiveRun: (LiveRunState.RUNNING, LiveRunState.FAILED)}
_TABLES: dict[str, JobTable] = {SUBMISSION: Submission, RUN: LiveRun}


@cache
def _claim_statement(table: JobTable) -> Any:
    """The claim, built once per kind (`queue.NOW` and the other values bound when it runs)."""
    return (
        update(table)
        .where(table.id == bindparam("job_id"), waiting(table), ~student_busy(table),
               table.attempts < bindparam("attempts"))
        .values(state=_STATES[table][0], claim_token=bindparam("token"),
                lease_expires_at=bindparam("lease_expires_at"), started_at=NOW,
                attempts=table.attempts + 1)
        .execution_options(synchronize_session=False)
    )


def claim(session: Session, submission_id: int, lease: timedelta, *,
          attempts: int) -> str | None:
    """Claim one submission for grading; the token, or None if it is not claimable.

    Not claimable: already graded or failed, running under a live lease, its
    student has another submission or run going, or it has had `attempts` claims.
    """
    return _claim(session, Submission, submission_id, lease, attempts=attempts)


def claim_run(session: Session, run_id: int, lease: timedelta, *, attempts: int) -> str | None:
    """Claim one live run, on the same terms as a submission (`claim`)."""
    return _claim(session, LiveRun, run_id, lease, attempts=attempts)


def _claim(session: Session, table: JobTable, job_id: int, lease: timedelta, *,
           attempts: int) -> str | None:
    owner = session.scalar(select(owner_of(table)).where(table.id == job_id))
    if owner is None:
        session.commit()
        return None
    if owner:  # anonymous viewers (0) have no row to lock
        lock_student(session, owner)  # two workers never both see the student idle
    token = secrets.token_hex(16)
    now = utcnow()
    result = session.execute(_claim_statement(table), {
        "now": now, "job_id": job_id, "attempts": attempts, "token": token,
        "lease_expires_at": now + lease})
    session.commit()
    return token if result.rowcount == 1 else None


def claimable(session: Session, limit: int = 20) -> list[tuple[str, int]]:
    """(kind, id) of the jobs a worker may take now, in the queue's order (turns by owner)."""
    return [(kind, job_id) for kind, job_id, _ in _claimable(session, limit)]


def _claimable(session: Session, limit: int) -> list[tuple[str, int, int]]:
    """(kind, id, attempts so far) of the jobs a worker may take now, in order."""
    rows = [(row.kind, row.id, row.attempts) for row in session.execute(
        _claimable_query(limit), {"now": utcnow()})]
    session.commit()
    return rows


@cache
def _claimable_query(limit: int) -> Select[Any]:
    queue = in_turn(skip_busy=True)
    return (select(queue.c.kind, queue.c.id, queue.c.attempts)
            .order_by(*queue_order(queue)).limit(limit))


def settle_exhausted(session: Session, attempts: int) -> int:
    """Mark `failed` every waiting job that has had its `attempts`; how many.

    Such a job was claimed that often and no claim ended in a result: its
    worker died each time, or recording the result failed.
    """
    now = utcnow()
    settled = 0
    for table, (work, noun, again) in ((Submission, ("grading", "submission", "submit")),
                                       (LiveRun, ("running", "run", "run it"))):
        result = session.execute(
            update(table)
            .where(waiting(table), table.attempts >= attempts)
            .values(state=_STATES[table][1], lease_expires_at=None, finished_at=now,
                    error=(f"The platform could not finish {work} this {noun} in {attempts} "
                           "attempts: each time, the work stopped before a result was "
                           f"recorded. This is our fault, not yours; please {again} again "
                           "later."))
            .execution_options(synchronize_session=False), {"now": now}
        )
        settled += result.rowcount
        if result.rowcount:
            log.warning("%s %s(s) failed after %s attempts", result.rowcount, noun, attempts)
    session.commit()
    return settled


def claim_next(session: Session, lease: timedelta, *, attempts: int) -> Claim | None:
    """Claim the job (submission or run) whose turn it is, racing other workers safely.

    Jobs out of attempts are settled as failed on the way (a write only when
    there are some).
    """
    candidates = _claimable(session, 20)
    if any(used >= attempts for _, _, used in candidates):
        settle_exhausted(session, attempts)
        candidates = _claimable(session, 20)
    for kind, job_id, _ in candidates:
        token = _claim(session, _TABLES[kind], job_id, lease, attempts=attempts)
        if token is not None:
            return Claim(job_id, token, kind)
    return None


def process_submission(session: Session, submission_id: int, context: GradingContext,
                       token: str | None = None) -> bool:
    """Grade one submission if it can be claimed; True when this call recorded a result.

    Idempotent: a submission that is already graded, or being graded under a
    live lease, is left alone.
    """
    token = token or claim(session, submission_id, context.lease, attempts=context.attempts)
    if token is None:
        return False
    submission = session.get(Submission, submission_id)
    exercise = submission.exercise
    run = _new_run(submission, context)
    try:
        # The files this student was assigned (the same on every resubmission).
        resolved = resolve_exercise_datasets(exercise.datasets, registry=context.datasets.registry,
                                             cache=context.datasets.file_cache,
                                             assignment=assignment_for(exercise,
                                                                       submission.user_id))
        run.parameters = papermill_parameters(resolved)
        run.dataset_checksums = {item.file: item.sha256 for item in resolved}
        source = source_notebook(exercise)
        submitted = submission.notebook.content
        spec = exercise_spec(exercise, source)
        reference = (reference_answers(session, exercise.lesson.notebook_hash, source, spec,
                                       resolved, context)
                     if spec.needs_reference else None)
        outcome = grade_notebook(
            source, submitted, parameters=run.parameters,
            data_files=job_files(resolved), settings=context.settings,
            pool=context.pool, spec=spec, priority=submission.priority, reference=reference,
        )
    except PanlearnError as error:
        log.warning("submission %s: grading failed: %s", submission_id, error.detail)
        return _record_failure(session, submission, token, run, error.detail,
                               retry=error.status >= 500, attempts=context.attempts)
    except Exception as error:  # a bug of ours: never lose the submission over it
        log.exception("submission %s: unexpected grading error", submission_id)
        return _record_failure(session, submission, token, run,
                               f"{type(error).__name__}: {error}", retry=True,
                               attempts=context.attempts)
    try:
        return _record_outcome(session, submission, token, run, outcome,
                               after_commit=context.on_graded)
    except Exception as error:  # e.g. the database: retried, within the attempts
        session.rollback()
        log.exception("submission %s: the result could not be recorded", submission_id)
        failed = _new_run(submission, context, started_at=run.started_at)
        failed.parameters, failed.dataset_checksums = run.parameters, run.dataset_checksums
        return _record_failure(session, submission, token, failed,
                               f"the result could not be recorded: {type(error).__name__}: "
                               f"{error}", retry=True, attempts=context.attempts)


def _new_run(submission: Submission, context: GradingContext,
             started_at: datetime | None = None) -> GradingRun:
    return GradingRun(submission_id=submission.id, state=SubmissionState.RUNNING,
                      grader_version=context.grader_version,
                      check_suite_hash=submission.exercise.lesson.notebook_hash,
                      worker=context.worker[:100], started_at=started_at or utcnow())


def reference_answers(session: Session, solution_hash: str, source: NotebookNode,
                      spec: ExerciseSpec, resolved: list[ResolvedDataset],
                      context: GradingContext) -> ReferenceAnswers:
    """The reference solution's answers on these files: from the cache, else computed now.

    Import validation normally stored them; an exercise imported without
    validation (or a file choice added since) pays once, here, in the worker,
    before the submission is graded. Concurrent workers may both compute; the
    insert is idempotent, and both results are the same.
    """
    checksums = checksums_of(resolved, spec)
    cached = load_reference_answers(session, solution_hash, checksums)
    if cached is not None:
        return cached
    log.info("reference answers of %s on %s: computing", solution_hash[:12],
             ", ".join(item.file for item in resolved))
    answers = pipeline.compute_reference_answers(
        source, parameters=papermill_parameters(resolved),
        data_files=job_files(resolved), settings=context.settings,
        pool=context.pool, spec=spec)
    store_reference_answers(session, solution_hash, checksums, answers)
    return answers


def _still_ours(session: Session, submission_id: int, token: str, values: dict[str, Any]) -> bool:
    result = session.execute(
        update(Submission)
        .where(Submission.id == submission_id, Submission.claim_token == token,
               Submission.state == SubmissionState.RUNNING)
        .values(**values)
    )
    return result.rowcount == 1


def _record_outcome(session: Session, submission: Submission, token: str, run: GradingRun,
                    outcome: GradingOutcome, *,
                    after_commit: Iterable[SubmissionHook] = ()) -> bool:
    now = utcnow()
    if not _still_ours(session, submission.id, token, {
        "state": SubmissionState.GRADED, "score": outcome.score,
        "max_score": outcome.max_score, "finished_at": now, "error": None,
        "lease_expires_at": None,
    }):
        session.rollback()
        log.warning("submission %s: lease lost, result discarded", submission.id)
        return False
    # The student's code may have left it unstorable: the grade stands without it.
    content, note = storable_notebook(outcome.executed_notebook)
    executed_sha = hashlib.sha256(content).hexdigest() if content is not None else None
    if content is not None:
        store_notebook_blob(session, executed_sha, content)
    run.state = SubmissionState.GRADED
    run.score, run.max_score = outcome.score, outcome.max_score
    run.timings = {name: round(value, 4) for name, value in outcome.timings.items()}
    run.notes = list(outcome.notes) + ([note] if note else [])
    run.executed_notebook_hash = executed_sha
    run.finished_at = now
    run.checks = [
        CheckResult(position=index, grade_id=check.grade_id, name=check.name,
                    status=check.status, score=check.score, max_score=check.max_score,
                    output=check.output, visibility=check.visibility, ran=check.ran,
                    tamper_proof=check.tamper_proof)
        for index, check in enumerate(outcome.checks)
    ]
    session.add(run)
    session.commit()
    # After the commit, each guarded: a subscriber (progress, LTI passback) never fails grading.
    publish(after_commit, session, submission.id, event="graded")
    return True


def _record_failure(session: Session, submission: Submission, token: str, run: GradingRun,
                    message: str, *, retry: bool, attempts: int) -> bool:
    final = not retry or submission.attempts >= attempts
    state = SubmissionState.FAILED if final else SubmissionState.QUEUED
    if not _still_ours(session, submission.id, token, {
        "state": state, "error": message[:2000], "lease_expires_at": None,
        "finished_at": utcnow() if final else None,
    }):
        session.rollback()
        return False
    run.state = SubmissionState.FAILED
    run.error = message[:2000]
    run.finished_at = utcnow()
    session.add(run)
    session.commit()
    return final

"""Grading jobs: claim a submission, grade it, record the result exactly once.

The same `process_submission` runs in the in-app worker processes and on
Celery workers. Claiming is one conditional UPDATE (a submission that is
queued, or running with an expired lease), so two workers never grade the
same submission at once; recording is conditional on the claim token, so a
worker whose lease was taken over (it hung, or was presumed dead) cannot
overwrite the result of the one that took over. A worker killed mid-grading
leaves an expired lease behind, and the submission is claimed again.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from nbformat import NotebookNode
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from panlearn import __version__
from panlearn.datasets.resolve import (
    ResolvedDataset,
    papermill_parameters,
    resolve_exercise_datasets,
)
from panlearn.datasets.settings import DatasetsContext
from panlearn.errors import PanlearnError
from panlearn.grading import pipeline
from panlearn.grading.pipeline import GradingOutcome, ReferenceAnswers, grade_notebook
from panlearn.grading.pool import KernelPool
from panlearn.grading.reference import (
    assignment_for,
    checksums_of,
    job_files,
    load_reference_answers,
    store_reference_answers,
)
from panlearn.grading.settings import GradingSettings
from panlearn.grading.spec import ExerciseSpec
from panlearn.grading.submissions import exercise_spec, source_notebook
from panlearn.lti.passback import post_score
from panlearn.models import (
    CheckResult,
    GradingRun,
    NotebookBlob,
    Submission,
    SubmissionState,
    utcnow,
)
from panlearn.notebooks.canonical import canonical_json, notebook_sha256
from panlearn.progress.hooks import on_submission_graded

log = logging.getLogger(__name__)

#: Platform failures are retried this many times before a submission is `failed`.
MAX_ATTEMPTS = 3


@dataclass
class GradingContext:
    """What a worker needs to grade: limits, data, and (optionally) warm kernels."""

    settings: GradingSettings
    datasets: DatasetsContext
    pool: KernelPool | None = None
    worker: str = f"{socket.gethostname()}:{os.getpid()}"

    @property
    def lease(self) -> timedelta:
        """How long a claim holds: the whole run's limit plus a margin for set-up."""
        return timedelta(seconds=self.settings.total_timeout_s + 60)


def claim(session: Session, submission_id: int, lease: timedelta) -> str | None:
    """Claim one submission for grading; the token, or None if it is not claimable."""
    token = secrets.token_hex(16)
    now = utcnow()
    result = session.execute(
        update(Submission)
        .where(Submission.id == submission_id,
               or_(Submission.state == SubmissionState.QUEUED,
                   (Submission.state == SubmissionState.RUNNING)
                   & (Submission.lease_expires_at < now)))
        .values(state=SubmissionState.RUNNING, claim_token=token,
                lease_expires_at=now + lease, started_at=now,
                attempts=Submission.attempts + 1)
    )
    session.commit()
    return token if result.rowcount == 1 else None


def claimable_ids(session: Session, limit: int = 20) -> list[int]:
    """Queued submissions and those whose worker died, interactive ones first."""
    now = utcnow()
    query = (select(Submission.id)
             .where(or_(Submission.state == SubmissionState.QUEUED,
                        (Submission.state == SubmissionState.RUNNING)
                        & (Submission.lease_expires_at < now)))
             .order_by(Submission.priority, Submission.id).limit(limit))
    ids = list(session.scalars(query))
    session.commit()
    return ids


def claim_next(session: Session, lease: timedelta) -> tuple[int, str] | None:
    """Claim the most urgent claimable submission, racing other workers safely."""
    for submission_id in claimable_ids(session):
        token = claim(session, submission_id, lease)
        if token is not None:
            return submission_id, token
    return None


def process_submission(session: Session, submission_id: int, context: GradingContext,
                       token: str | None = None) -> bool:
    """Grade one submission if it can be claimed; True when this call recorded a result.

    Idempotent: a submission that is already graded, or being graded under a
    live lease, is left alone.
    """
    token = token or claim(session, submission_id, context.lease)
    if token is None:
        return False
    submission = session.get(Submission, submission_id)
    exercise = submission.exercise
    run = GradingRun(submission_id=submission_id, state=SubmissionState.RUNNING,
                     grader_version=__version__, check_suite_hash=exercise.lesson.notebook_hash,
                     worker=context.worker[:100], started_at=utcnow())
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
                               retry=error.status >= 500)
    except Exception as error:  # a bug of ours: never lose the submission over it
        log.exception("submission %s: unexpected grading error", submission_id)
        return _record_failure(session, submission, token, run,
                               f"{type(error).__name__}: {error}", retry=True)
    return _record_outcome(session, submission, token, run, outcome)


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
                    outcome: GradingOutcome) -> bool:
    now = utcnow()
    if not _still_ours(session, submission.id, token, {
        "state": SubmissionState.GRADED, "score": outcome.score,
        "max_score": outcome.max_score, "finished_at": now, "error": None,
        "lease_expires_at": None,
    }):
        session.rollback()
        log.warning("submission %s: lease lost, result discarded", submission.id)
        return False
    executed_sha = notebook_sha256(outcome.executed_notebook)
    if session.get(NotebookBlob, executed_sha) is None:
        content = canonical_json(outcome.executed_notebook)
        session.add(NotebookBlob(sha256=executed_sha, content=content, size=len(content)))
    run.state = SubmissionState.GRADED
    run.score, run.max_score = outcome.score, outcome.max_score
    run.timings = {name: round(value, 4) for name, value in outcome.timings.items()}
    run.notes = list(outcome.notes)
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
    # After the commit, and guarded inside: progress can never make grading fail.
    on_submission_graded(session, submission.id)
    post_score(session, submission.id)  # LTI grade passback; never raises either
    return True


def _record_failure(session: Session, submission: Submission, token: str, run: GradingRun,
                    message: str, *, retry: bool) -> bool:
    attempts = submission.attempts
    final = not retry or attempts >= MAX_ATTEMPTS
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

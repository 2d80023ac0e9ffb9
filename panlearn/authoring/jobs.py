"""Imports from the author's workspace as background jobs that survive their request.

Grading an exercise's reference solution takes seconds, a course's a minute
or more: too long for one request, and a browser tab closed halfway must not
lose the work. So the workspace stores everything the import needs in an
`ImportJob` row (the uploaded zip, or the git URL and ref) and answers at
once; a runner thread claims the job and runs the same checks and import as
the CLI and the API, writing the report to the row after every change, and
the page polls it.

Claiming follows `grading.jobs`: one conditional UPDATE takes a job that is
queued, or running with an expired lease (its process died), and counts the
attempt; the runner renews the lease while it works, and every write is
conditional on its claim token, so a runner that lost its lease cannot
overwrite the report of the one that took over. An import is all or nothing,
so running a job again from the start is safe; after `MAX_ATTEMPTS` claims
the job is `failed`.
"""

from __future__ import annotations

import io
import logging
import secrets
import tempfile
import threading
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from panlearn.accounts.permissions import require_author
from panlearn.authoring.checks import Grading
from panlearn.authoring.folder import CourseFolderError
from panlearn.authoring.git import check_git_url, check_ref
from panlearn.authoring.manifest import Problem
from panlearn.authoring.reference_grading import subprocess_checker
from panlearn.authoring.report import ImportReport
from panlearn.authoring.service import CourseHook, import_courses, validate_courses
from panlearn.authoring.sources import SourceLimits, read_archive, read_git
from panlearn.datasets.registry import Registry
from panlearn.errors import InvalidInputError, NotFoundError, PanlearnError
from panlearn.models import ImportJob, ImportJobState, User, utcnow

log = logging.getLogger(__name__)

MODES = ("import", "validate")
#: Claims of one job before it is given up as `failed`.
MAX_ATTEMPTS = 3
#: How long a claim holds without renewal; renewed every third of it while the job runs.
LEASE = timedelta(seconds=60)


@dataclass(frozen=True)
class ImportContext:
    """What running a job needs, wired once by the app."""

    settings: Mapping[str, Any]
    registry: Registry
    #: A new session for the report's writes, apart from the import's own transaction.
    make_session: Callable[[], Session]
    hooks: list[CourseHook] = field(default_factory=list)


def start_import(session: Session, actor: User | None, *, mode: str,
                 archive: bytes | None = None, filename: str = "",
                 git_url: str | None = None, git_ref: str | None = None,
                 settings: Mapping[str, Any]) -> ImportJob:
    """Queue an import (or validation) of an uploaded zip or a git URL at a ref.

    What can be refused without work is refused here (400): an empty upload,
    a URL outside `PANLEARN_GIT_IMPORT_URLS`, a ref that is no branch, tag or
    commit name.
    """
    author = require_author(actor)
    if mode not in MODES:
        raise InvalidInputError(f"Unknown mode {mode!r}.", errors={"mode": ["import or validate"]})
    if archive is not None:
        if not archive:
            raise InvalidInputError("Choose a course archive (.zip) to upload.",
                                    errors={"archive": ["empty"]})
        job = ImportJob(source_kind="upload", archive=archive,
                        source_label=(filename or "archive.zip")[:200])
    elif git_url:
        url = check_git_url(git_url, SourceLimits.from_settings(settings).git_prefixes)
        ref = check_ref(git_ref or "main")
        job = ImportJob(source_kind="git", git_url=url, git_ref=ref,
                        source_label=f"{url} at {ref}"[:500])
    else:
        raise InvalidInputError("Upload a course archive or give a git URL.",
                                errors={"archive": ["missing"], "git_url": ["missing"]})
    job.mode = mode
    job.organisation_id = author.organisation_id
    job.user = author
    job.state = ImportJobState.QUEUED
    job.report = ImportReport().as_dict()
    session.add(job)
    session.commit()
    return job


def get_import_job(session: Session, job_id: int, viewer: User | None) -> ImportJob:
    """A job of the viewer's organisation (404 for anyone else's: not acknowledged)."""
    author = require_author(viewer)
    job = session.get(ImportJob, job_id)
    if job is None or job.organisation_id != author.organisation_id:
        raise NotFoundError(f"No import {job_id}.")
    return job


def recent_import_jobs(session: Session, viewer: User | None, *,
                       limit: int = 10) -> list[ImportJob]:
    """The organisation's latest jobs, newest first."""
    author = require_author(viewer)
    return list(session.scalars(select(ImportJob)
                                .where(ImportJob.organisation_id == author.organisation_id)
                                .order_by(ImportJob.id.desc()).limit(limit)))


def _claimable(now: Any) -> Any:
    return or_(ImportJob.state == ImportJobState.QUEUED,
               (ImportJob.state == ImportJobState.RUNNING) & (ImportJob.lease_expires_at < now))


def claimable_import_ids(session: Session) -> list[int]:
    """Jobs waiting, or abandoned by a process that died, oldest first."""
    ids = list(session.scalars(select(ImportJob.id).where(_claimable(utcnow()))
                               .order_by(ImportJob.id)))
    session.commit()
    return ids


def claim_import(session: Session, job_id: int) -> str | None:
    """Claim a job; its token, or None when it is not claimable (or has had its attempts)."""
    token = secrets.token_hex(16)
    now = utcnow()
    taken = session.execute(
        update(ImportJob).where(ImportJob.id == job_id, _claimable(now))
        .values(state=ImportJobState.RUNNING, claim_token=token, lease_expires_at=now + LEASE,
                started_at=now, attempts=ImportJob.attempts + 1)).rowcount == 1
    session.commit()
    if not taken:
        return None
    job = session.get(ImportJob, job_id)
    if job is not None and job.attempts > MAX_ATTEMPTS:
        _record(session, job_id, token, state=ImportJobState.FAILED,
                error=f"The import was interrupted {MAX_ATTEMPTS} times (the server restarted "
                      "or stopped); start it again.")
        return None
    return token


def renew_lease(session: Session, job_id: int, token: str) -> bool:
    """Extend the claim; False when another runner took the job over."""
    renewed = session.execute(
        update(ImportJob).where(ImportJob.id == job_id, ImportJob.claim_token == token)
        .values(lease_expires_at=utcnow() + LEASE)).rowcount == 1
    session.commit()
    return renewed


def _record(session: Session, job_id: int, token: str, **values: Any) -> bool:
    """Write to the job if the claim still holds; finishing also drops the upload."""
    if values.get("state") in (ImportJobState.DONE, ImportJobState.FAILED):
        values.update(finished_at=utcnow(), archive=None, claim_token=None,
                      lease_expires_at=None)
    written = session.execute(
        update(ImportJob).where(ImportJob.id == job_id, ImportJob.claim_token == token)
        .values(**values)).rowcount == 1
    session.commit()
    return written


def run_import_job(session: Session, job_id: int, token: str, context: ImportContext) -> None:
    """Run a claimed job to its end; the report is stored after every change.

    The course's problems (and refusals such as another organisation's slug)
    end the job `done` with an invalid report; only the platform's own
    failures end it `failed`.
    """
    job = session.get(ImportJob, job_id)
    if job is None:
        return

    def store(report: ImportReport) -> None:
        with context.make_session() as writer:
            _record(writer, job_id, token, report=report.as_dict(),
                    lease_expires_at=utcnow() + LEASE)

    report = ImportReport(listener=store)
    report.changed()
    try:
        with _LeaseKeeper(context, job_id, token):
            _run(session, job, report, context)
    except CourseFolderError:
        pass  # every problem is in the report already
    except PanlearnError as error:
        session.rollback()
        report.add_problems([Problem(job.source_label, error.detail)])
    except Exception:
        session.rollback()
        log.exception("import job %s failed", job_id)
        with context.make_session() as writer:
            _record(writer, job_id, token, state=ImportJobState.FAILED, report=report.as_dict(),
                    error="The platform failed while importing; this is not your course's "
                          "fault. It has been logged; try again later.")
        return
    if report.problems:
        report.result = "invalid"
    with context.make_session() as writer:
        _record(writer, job_id, token, state=ImportJobState.DONE, report=report.as_dict())


def _run(session: Session, job: ImportJob, report: ImportReport,
         context: ImportContext) -> None:
    settings = context.settings
    actor = job.user
    if actor is None:
        raise InvalidInputError("The account that started this import no longer exists.")
    limits = SourceLimits.from_settings(settings)
    with tempfile.TemporaryDirectory(prefix="panlearn-job-") as tmp:
        if job.source_kind == "upload":
            sources, problems = read_archive(io.BytesIO(job.archive or b""), job.source_label,
                                             Path(tmp), limits=limits, registry=context.registry)
        else:
            sources, problems = read_git(job.git_url or "", job.git_ref or "", Path(tmp),
                                         limits=limits, registry=context.registry)
        validation = (subprocess_checker(settings) if settings["GRADING_VALIDATE"]
                      else nullcontext(None))
        with validation as validator:
            if job.mode == "validate":
                validate_courses(session, sources, grading=Grading(validator, regrade=True),
                                 actor=actor, problems=problems, report=report)
            else:
                import_courses(session, sources, actor=actor, after_commit=context.hooks,
                               validate_exercise=validator, problems=problems, report=report)


class _LeaseKeeper:
    """Renews a job's lease from a thread while one exercise's grading takes its time."""

    def __init__(self, context: ImportContext, job_id: int, token: str) -> None:
        self._context, self._job_id, self._token = context, job_id, token
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="import-lease")

    def __enter__(self) -> _LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(LEASE.total_seconds() / 3):
            try:
                with self._context.make_session() as session:
                    renew_lease(session, self._job_id, self._token)
            except Exception:  # a missed renewal costs at most a takeover, never the job
                log.exception("renewing the lease of import job %s failed", self._job_id)


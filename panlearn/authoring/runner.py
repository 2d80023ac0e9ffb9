"""The thread that runs the workspace's import jobs in a web process.

One job at a time per process (grading reference solutions is heavy); jobs
wait in order. The runner starts with the app's first request and then takes
up every job left claimable: queued ones, and those whose process died
(`jobs.claim_import` decides). The thread is a daemon: a process that stops
mid-import leaves an expired lease, and the next one resumes the job.
"""

from __future__ import annotations

import logging
import queue
import threading

from flask import Flask
from sqlalchemy.orm import Session

from panlearn.authoring.jobs import (
    ImportContext,
    claim_import,
    claimable_import_ids,
    run_import_job,
)
from panlearn.extensions import db
from panlearn.wiring import services_of

log = logging.getLogger(__name__)


class ImportRunner:
    """Runs import jobs on one background thread of this process."""

    def __init__(self, app: Flask) -> None:
        self._app = app
        self._queue: queue.Queue[int] = queue.Queue()
        self._queued: set[int] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, job_id: int) -> None:
        """Run this job soon (a job already waiting here is not queued twice)."""
        with self._lock:
            if job_id in self._queued:
                return
            self._queued.add(job_id)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, daemon=True,
                                                name="import-runner")
                self._thread.start()
        self._queue.put(job_id)

    def resume(self) -> None:
        """Take up every claimable job: queued, or left behind by a process that died."""
        with self._app.app_context():
            for job_id in claimable_import_ids(db.session):
                self.submit(job_id)

    def _work(self) -> None:
        while True:
            job_id = self._queue.get()
            try:
                self.run(job_id)
            except Exception:
                log.exception("import job %s: the runner failed", job_id)
            finally:
                with self._lock:
                    self._queued.discard(job_id)

    def run(self, job_id: int) -> None:
        """Claim and run one job here and now (the thread's work; tests call it too)."""
        with self._app.app_context():
            token = claim_import(db.session, job_id)
            if token is not None:
                run_import_job(db.session, job_id, token, self.context())

    def context(self) -> ImportContext:
        """The settings, registry, hooks and sessions a job runs with."""
        services = services_of(self._app)
        return ImportContext(settings=services.settings, registry=services.datasets.registry,
                             make_session=lambda: Session(db.engine),
                             hooks=list(services.course_hooks))


def resume_with_first_request(app: Flask, runner: ImportRunner) -> None:
    """The app's runner resumes left-behind jobs with the first request."""
    started: list[bool] = []

    @app.before_request
    def _resume_imports() -> None:
        if not started:
            started.append(True)
            try:
                runner.resume()
            except Exception:  # e.g. a database not migrated yet: pages must still answer
                log.exception("resuming import jobs failed; they resume when looked at")

"""Celery: the grading task and the sweep that recovers lost work.

`flask --app app worker` starts a Celery worker on `PANLEARN_BROKER_URL`.
Each worker process builds the Flask app and its warm kernel pool once, then
runs `grade_one` for each task: the same claim → grade → record path as the
local pool, for submissions and live runs alike. A task is a wake-up, not an
order: the database decides which job is done (`grading.queue`: turns between
students, one running job each), so the broker's first-in-first-out never lets
one student's flood go first. A task that finds nothing it may take does nothing; one that
graded something sends another while work is waiting (the student it just
served may have more). Tasks are acknowledged late and the database claim
makes them idempotent, so a redelivered or duplicated task grades nothing
twice. The sweep (Celery beat, embedded in the worker) settles submissions
out of attempts and re-sends wake-ups for work whose message was lost or
whose worker died.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery import Celery
from celery.signals import worker_process_init, worker_process_shutdown
from sqlalchemy import or_, select

log = logging.getLogger(__name__)

celery_app = Celery("panlearn")
celery_app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    task_default_queue="panlearn-grading",
    beat_schedule={"sweep": {"task": "panlearn.sweep", "schedule": 10.0}},
)

_state: dict[str, Any] = {}


def configure(broker_url: str) -> Celery:
    """Point the Celery app at the broker (called by the app factory and `flask worker`)."""
    celery_app.conf.broker_url = broker_url
    return celery_app


def _app() -> Any:
    if "app" not in _state:
        from panlearn import create_app

        _state["app"] = create_app()
    return _state["app"]


def _context() -> Any:
    if "context" not in _state:
        from panlearn.grading.runtime import build_context, start_warm_up

        _state["context"] = build_context(_app())
        start_warm_up(_app(), _state["context"].pool)
    return _state["context"]


@worker_process_init.connect
def _warm_up(**_: Any) -> None:
    # Start the kernel pool before the first task, off the critical path.
    _context()


@worker_process_shutdown.connect
def _close(**_: Any) -> None:
    context = _state.pop("context", None)
    if context is not None and context.pool is not None:
        context.pool.close()


@celery_app.task(name="panlearn.grade_submission")
def grade_submission(submission_id: int | None = None) -> bool:
    """Do the job whose turn it is, a submission or a live run (the id only says what woke us).

    The task keeps its first name: workers of an older release still take it.
    """
    from panlearn.extensions import db
    from panlearn.grading.jobs import claimable
    from panlearn.grading.runtime import grade_one

    app = _app()
    graded = grade_one(app, _context())
    if graded:
        with app.app_context():
            more = claimable(db.session, limit=1)
            db.session.remove()
        if more:
            try:
                grade_submission.delay(more[0][1])
            except Exception:  # the broker is down: the sweep wakes a worker for it later
                log.warning("could not send the next wake-up; the sweep will", exc_info=True)
    return graded


@celery_app.task(name="panlearn.sweep")
def sweep(stale_after_s: float | None = None) -> int:
    """Settle exhausted submissions; wake workers for work a lost message left behind.

    A submission still queued after `stale_after_s` (default: one lease,
    PANLEARN_GRADING_LEASE_S) is presumed to have lost its message (a broker
    restart, a failed publish); one running past its lease lost its worker.
    Only what a worker may take now is re-sent: a student's next submission
    waits for the running one, whose worker sends the wake-up when it is done.
    """
    from panlearn.extensions import db
    from panlearn.grading.jobs import settle_exhausted
    from panlearn.grading.queue import in_turn, queue_order
    from panlearn.models import SubmissionState, utcnow
    from panlearn.wiring import services_of

    app = _app()
    settings = services_of(app).settings
    if stale_after_s is None:
        stale_after_s = settings["GRADING_LEASE_S"]
    stale = utcnow() - timedelta(seconds=stale_after_s)
    with app.app_context():
        settle_exhausted(db.session, settings["GRADING_ATTEMPTS"])
        queue = in_turn(skip_busy=True)
        ids = list(db.session.scalars(
            select(queue.c.id)
            # Queued for a while (its message lost), or running past its lease (worker gone).
            .where(or_(queue.c.state == SubmissionState.RUNNING.value, queue.c.created_at < stale))
            .order_by(*queue_order(queue)).limit(100), {"now": utcnow()}))
        db.session.remove()
    for submission_id in ids:
        grade_submission.delay(submission_id)
    return len(ids)

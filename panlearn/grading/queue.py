"""The grading queue's order, and how long a waiting submission will wait (`Retry-After`).

**Two kinds of work, one queue.** Workers take submissions to grade and live
runs (cells a learner runs from a lesson page, `models.LiveRun`) from the same
queue, in the same order, so a class running cells never starves grading and
one learner's runs never starve another's. Each job has an *owner*: the
student (a run's `owner` is its user, or 0 for every anonymous viewer
together).

**Turns between students.** Workers take waiting jobs in this order:
interactive before bulk (`priority`); then by *turn*, an owner's first waiting
job before anyone's second; within a turn, the owner served least recently
first (never served before anyone), then the oldest job. An owner whose
submission or run is being worked on takes no second worker: their next job
waits until the running one ends. So one student's ten notebooks queue behind
everyone else's first, and a class never waits behind one student. The order
is recomputed from the database at every claim (`jobs.claimable`), so every
worker process, local or Celery, follows the same one.

**Retry-After.** Students (and their pages, which reload themselves) poll a
submission until it is graded. Polling every second while a hundred
submissions are ahead only takes CPU from the graders; the API answers a
waiting submission with a ``Retry-After`` from its place in that same order
and the recent grading rate, and the result page reloads after the same time.
"""

from __future__ import annotations

import math
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    Subquery,
    and_,
    bindparam,
    case,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from panlearn.models import LiveRun, LiveRunState, Submission, SubmissionState, utcnow

#: Bounds of the hint, in seconds: a running submission is usually done within one.
MIN_POLL_S = 1
MAX_POLL_S = 10
#: Bounds of the hint given with a 429 for a full queue (a student's own queue drains slowly).
MAX_QUEUE_RETRY_S = 600

#: How many recently finished submissions the grading rate is measured over.
RATE_SAMPLE = 20


#: The one clock reading every query here compares with, bound when it runs:
#: ``session.execute(statement, {"now": utcnow()})``. The statements are then built
#: once (building this one took longer than running it).
NOW = bindparam("now")


#: The kinds of job in the queue, as the `kind` column of `in_turn` names them.
SUBMISSION, RUN = "submission", "run"

#: A table of jobs: submissions or live runs.
JobTable = type[Submission] | type[LiveRun]

_KINDS: tuple[tuple[JobTable, str], ...] = ((Submission, SUBMISSION), (LiveRun, RUN))
_QUEUED = {Submission: SubmissionState.QUEUED, LiveRun: LiveRunState.QUEUED}
_RUNNING = {Submission: SubmissionState.RUNNING, LiveRun: LiveRunState.RUNNING}


def owner_of(table: JobTable) -> ColumnElement[int]:
    """Whose turn a job takes: a submission's student; a run's owner (0: anonymous)."""
    return Submission.user_id if table is Submission else LiveRun.owner  # type: ignore[return-value]


def waiting(table: JobTable = Submission) -> ColumnElement[bool]:
    """Jobs a worker may take: queued, or running under a lease that expired."""
    return or_(table.state == _QUEUED[table],
               and_(table.state == _RUNNING[table], table.lease_expires_at < NOW))


def student_busy(table: JobTable = Submission) -> ColumnElement[bool]:
    """Another job of the same owner (a submission or a run) runs under a live lease."""
    owner = owner_of(table)
    other_submission, other_run = aliased(Submission), aliased(LiveRun)
    submissions = [other_submission.user_id == owner,
                   other_submission.state == SubmissionState.RUNNING,
                   other_submission.lease_expires_at >= NOW]
    runs = [other_run.owner == owner, other_run.state == LiveRunState.RUNNING,
            other_run.lease_expires_at >= NOW]
    if table is Submission:
        submissions.append(other_submission.id != Submission.id)
    else:
        runs.append(other_run.id != LiveRun.id)
    return or_(exists().where(*submissions), exists().where(*runs))


def _waiting_jobs(skip_busy: bool) -> Subquery:
    """Waiting submissions and runs as rows of one shape (kind, id, owner, …)."""
    parts = []
    for table, kind in _KINDS:
        conditions = [waiting(table)]
        if skip_busy:
            conditions.append(~student_busy(table))
        parts.append(select(literal(kind).label("kind"), table.id.label("id"),
                            owner_of(table).label("owner"), table.priority.label("priority"),
                            table.attempts.label("attempts"),
                            table.created_at.label("created_at"),
                            cast(table.state, String(16)).label("state"))
                     .where(*conditions))
    return union_all(*parts).subquery("jobs")


def _last_served(owner: Any) -> ColumnElement[Any]:
    """When the owner's latest job (submission or run) started; NULL if none ever did."""
    other_submission, other_run = aliased(Submission), aliased(LiveRun)
    submission = (select(func.max(other_submission.started_at))
                  .where(other_submission.user_id == owner).scalar_subquery())
    run = (select(func.max(other_run.started_at))
           .where(other_run.owner == owner).scalar_subquery())
    # The later of the two, in SQL both SQLite and PostgreSQL run (no GREATEST in SQLite).
    return case((submission.is_(None), run), (run.is_(None), submission),
                (submission > run, submission), else_=run)


@cache
def in_turn(*, skip_busy: bool) -> Subquery:
    """Waiting jobs with the keys of their place in the queue (see the module doc).

    `skip_busy` leaves out the jobs of owners who are being served (what a
    worker may claim now); the hint keeps them, in their turn.
    """
    jobs = _waiting_jobs(skip_busy)
    turn = func.row_number().over(partition_by=jobs.c.owner,
                                  order_by=(jobs.c.priority, jobs.c.created_at, jobs.c.kind,
                                            jobs.c.id))
    return (select(jobs.c.kind, jobs.c.id, jobs.c.owner, jobs.c.priority, jobs.c.attempts,
                   jobs.c.created_at, jobs.c.state, turn.label("turn"),
                   _last_served(jobs.c.owner).label("served"))
            .subquery("in_turn"))


def queue_order(queue: Subquery) -> tuple[Any, ...]:
    """ORDER BY of `in_turn` rows: priority, turn, least recently served owner, oldest."""
    return (queue.c.priority, queue.c.turn, queue.c.served.asc().nulls_first(),
            queue.c.created_at, queue.c.kind, queue.c.id)


@cache
def _places() -> Select[Any]:
    queue = in_turn(skip_busy=False)
    ranked = select(queue.c.kind, queue.c.id,
                    func.row_number().over(order_by=queue_order(queue)).label("place")
                    ).subquery()
    return select(ranked.c.place).where(ranked.c.kind == SUBMISSION,
                                        ranked.c.id == bindparam("submission_id"))


def queued_ahead(session: Session, submission: Submission) -> int:
    """Waiting jobs (submissions and runs) that will be taken before this one, in order."""
    place = session.scalar(_places(), {"now": utcnow(), "submission_id": submission.id})
    return int(place) - 1 if place else 0


def recent_rate(session: Session, now: datetime | None = None) -> float | None:
    """Submissions finished per second lately (None before there is enough to tell)."""
    finished = list(session.scalars(
        select(Submission.finished_at)
        .where(Submission.state.in_((SubmissionState.GRADED, SubmissionState.FAILED)),
               Submission.finished_at.is_not(None))
        .order_by(Submission.id.desc()).limit(RATE_SAMPLE)
    ))
    if len(finished) < 2:
        return None
    span = ((now or utcnow()) - min(finished)).total_seconds()
    return len(finished) / span if span > 0 else None


def poll_after(session: Session, submission: Submission) -> int | None:
    """Seconds until a new look at ``submission`` is worth it; None once it is finished."""
    if submission.state in (SubmissionState.GRADED, SubmissionState.FAILED):
        return None
    if submission.state == SubmissionState.RUNNING:
        return MIN_POLL_S
    rate = recent_rate(session)
    if rate is None:
        return MIN_POLL_S
    wait = (queued_ahead(session, submission) + 1) / rate
    # Half the expected wait: an estimate off by a factor of two still costs little delay.
    return max(MIN_POLL_S, min(MAX_POLL_S, math.ceil(wait / 2)))


def until_a_place_frees(session: Session, user_id: int) -> int:
    """Seconds until one of a student's unfinished submissions is likely done (a 429 hint)."""
    first = session.scalar(
        select(Submission).where(Submission.user_id == user_id,
                                 Submission.state.in_((SubmissionState.QUEUED,
                                                       SubmissionState.RUNNING)))
        .order_by(case((Submission.state == SubmissionState.RUNNING, 0), else_=1),
                  Submission.id).limit(1))
    rate = recent_rate(session)
    if first is None or rate is None:
        return MAX_POLL_S
    ahead = 0 if first.state == SubmissionState.RUNNING else queued_ahead(session, first)
    return max(MIN_POLL_S, min(MAX_QUEUE_RETRY_S, math.ceil((ahead + 1) / rate)))

"""The grading queue's order, and how long a waiting submission will wait (`Retry-After`).

**Turns between students.** Workers take waiting submissions in this order:
interactive before bulk (`priority`); then by *turn*, a student's first waiting
submission before anyone's second; within a turn, the student served least
recently first (never served before anyone), then the oldest submission. A
student whose submission is being graded takes no second worker: their next
one waits until the running one ends. So one student's ten notebooks queue
behind everyone else's first, and a class never waits behind one student.
The order is recomputed from the database at every claim (`jobs.claimable_ids`),
so every worker process, local or Celery, follows the same one.

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
    Subquery,
    and_,
    bindparam,
    case,
    exists,
    func,
    or_,
    select,
)
from sqlalchemy.orm import Session, aliased

from panlearn.models import Submission, SubmissionState, utcnow

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


def waiting() -> ColumnElement[bool]:
    """Submissions a worker may take: queued, or running under a lease that expired."""
    return or_(Submission.state == SubmissionState.QUEUED,
               and_(Submission.state == SubmissionState.RUNNING,
                    Submission.lease_expires_at < NOW))


def student_busy() -> ColumnElement[bool]:
    """Another submission of the same student is being graded under a live lease."""
    other = aliased(Submission)
    return exists().where(other.user_id == Submission.user_id, other.id != Submission.id,
                          other.state == SubmissionState.RUNNING,
                          other.lease_expires_at >= NOW)


@cache
def in_turn(*, skip_busy: bool) -> Subquery:
    """Waiting submissions with the keys of their place in the queue (see the module doc).

    `skip_busy` leaves out the submissions of students who are being graded
    (what a worker may claim now); the hint keeps them, in their turn.
    """
    other = aliased(Submission)
    last_served = (select(func.max(other.started_at))
                   .where(other.user_id == Submission.user_id).scalar_subquery())
    turn = func.row_number().over(partition_by=Submission.user_id,
                                  order_by=(Submission.priority, Submission.id))
    conditions = [waiting()]
    if skip_busy:
        conditions.append(~student_busy())
    return (select(Submission.id, Submission.priority, Submission.attempts,
                   turn.label("turn"), last_served.label("served"))
            .where(*conditions).subquery("in_turn"))


def queue_order(queue: Subquery) -> tuple[Any, ...]:
    """ORDER BY of `in_turn` rows: priority, turn, least recently served student, oldest."""
    return (queue.c.priority, queue.c.turn, queue.c.served.asc().nulls_first(), queue.c.id)


@cache
def _places() -> Select[Any]:
    queue = in_turn(skip_busy=False)
    ranked = select(queue.c.id, func.row_number().over(order_by=queue_order(queue))
                    .label("place")).subquery()
    return select(ranked.c.place).where(ranked.c.id == bindparam("submission_id"))


def queued_ahead(session: Session, submission: Submission) -> int:
    """Waiting submissions that will be taken before this one, in the queue's order."""
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

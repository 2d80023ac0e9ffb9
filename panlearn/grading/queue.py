"""How long a waiting submission will wait: the hint behind ``Retry-After``.

Students (and their pages, which reload themselves) poll a submission until it
is graded. Polling every second while a hundred submissions are ahead only
takes CPU from the graders; the API answers a waiting submission with a
``Retry-After`` from its place in the queue and the recent grading rate, and
the result page reloads after the same time.
"""

from __future__ import annotations

import math
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from panlearn.models import Submission, SubmissionState, utcnow

#: Bounds of the hint, in seconds: a running submission is usually done within one.
MIN_POLL_S = 1
MAX_POLL_S = 10

#: How many recently finished submissions the grading rate is measured over.
RATE_SAMPLE = 20


def queued_ahead(session: Session, submission: Submission) -> int:
    """Queued submissions that will be taken before this one (interactive first, then by id)."""
    return session.scalar(
        select(func.count()).select_from(Submission).where(
            Submission.state == SubmissionState.QUEUED,
            (Submission.priority < submission.priority)
            | ((Submission.priority == submission.priority) & (Submission.id < submission.id)),
        )
    ) or 0


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

"""Prometheus metrics read from the database at scrape time.

Grading runs in other processes (local workers, Celery on other machines), so
in-process counters would each see a part. The database sees everything: the
collector asks it, on each scrape, for the queue, the outcomes and the grading
latency of recent submissions.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from flask import Flask
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from panlearn.extensions import db
from panlearn.models import Submission, SubmissionState, utcnow

LATENCY_WINDOW = timedelta(minutes=15)


class GradingCollector(Collector):
    """Queue length, outcomes and latency of grading, for every process at once."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self) -> Iterator[Any]:
        """One database round trip per metric family; cheap at scrape intervals."""
        with self.app.app_context():
            counts = dict(db.session.execute(
                select(Submission.state, func.count(Submission.id)).group_by(Submission.state)
            ).all())
            since = utcnow() - LATENCY_WINDOW
            recent = db.session.execute(
                select(Submission.created_at, Submission.finished_at)
                .where(Submission.state == SubmissionState.GRADED,
                       Submission.finished_at >= since)).all()
            db.session.remove()
        queue = GaugeMetricFamily("panlearn_grading_queue", "Submissions waiting or being "
                                  "graded, by state.", labels=["state"])
        for state in (SubmissionState.QUEUED, SubmissionState.RUNNING):
            queue.add_metric([state.value], counts.get(state, 0))
        yield queue
        outcomes = CounterMetricFamily("panlearn_submissions", "Submissions that reached an "
                                       "outcome: graded (the student's) or failed (ours).",
                                       labels=["outcome"])
        for state in (SubmissionState.GRADED, SubmissionState.FAILED):
            outcomes.add_metric([state.value], counts.get(state, 0))
        yield outcomes
        latencies = [(finished - created).total_seconds() for created, finished in recent
                     if finished is not None and created is not None]
        summary = SummaryMetricFamily(
            "panlearn_grading_latency_seconds", "From submission to graded, over the last "
            f"{int(LATENCY_WINDOW.total_seconds() // 60)} minutes.")
        summary.add_metric([], count_value=len(latencies), sum_value=sum(latencies))
        yield summary

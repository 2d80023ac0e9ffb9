"""Submissions as use cases: hand one in, see one, list them, with who may see what.

A submission is validated (a notebook of this exercise, within the size and
output limits, within the student's rate limit) and committed before any
grading work starts; the caller dispatches it after the commit.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import nbformat
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from panlearn.accounts.permissions import can_view_version, is_staff_of, is_try_out
from panlearn.errors import (
    ForbiddenError,
    NotFoundError,
    PayloadTooLargeError,
    RateLimitedError,
    UnauthorizedError,
)
from panlearn.grading.matching import prepare_submission
from panlearn.grading.settings import GradingSettings
from panlearn.grading.spec import ExerciseSpec, load_exercise_spec
from panlearn.models import (
    CheckResult,
    Exercise,
    GradingRun,
    NotebookBlob,
    Submission,
    SubmissionState,
    User,
    utcnow,
)
from panlearn.notebooks.canonical import canonical_json, notebook_sha256

INTERACTIVE, BULK = 0, 10


@dataclass(frozen=True)
class SubmissionLimits:
    """How much and how often a student may submit (the grader is no oracle)."""

    max_bytes: int
    per_window: int
    window: timedelta


def submission_limits(settings: dict[str, Any]) -> SubmissionLimits:
    """The limits the settings give (`PANLEARN_MAX_UPLOAD_MB`, `PANLEARN_SUBMISSIONS_PER_HOUR`)."""
    return SubmissionLimits(max_bytes=settings["MAX_UPLOAD_MB"] * 1024 * 1024,
                            per_window=settings["SUBMISSIONS_PER_HOUR"],
                            window=timedelta(hours=1))


def get_exercise(session: Session, exercise_id: int, viewer: User | None) -> Exercise:
    """An exercise the viewer may see."""
    exercise = session.get(Exercise, exercise_id)
    if exercise is None or not can_view_version(viewer, exercise.lesson.module.course_version):
        raise NotFoundError(f"No exercise {exercise_id}.")
    return exercise


#: Parsed source notebooks and specs by notebook sha256 (content-addressed, so never
#: stale): each submission, in the API and in the worker, used to parse the
#: author's notebook and derive its spec again (~5 ms, and a blob load).
_CACHE_SIZE = 64
_sources: OrderedDict[str, Any] = OrderedDict()
_specs: OrderedDict[tuple[str, tuple[str, ...]], ExerciseSpec] = OrderedDict()
_cache_lock = threading.Lock()


def _cached(cache: OrderedDict[Any, Any], key: Any, make: Any) -> Any:
    with _cache_lock:
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
    value = make()
    with _cache_lock:
        cache[key] = value
        while len(cache) > _CACHE_SIZE:
            cache.popitem(last=False)
    return value


def source_notebook(exercise: Exercise) -> Any:
    """The author's notebook of an exercise (solutions and hidden tests included).

    A fresh copy each time: callers may change it.
    """
    lesson = exercise.lesson
    parsed = _cached(_sources, lesson.notebook_hash, lambda: nbformat.reads(
        lesson.notebook.content.decode("utf-8"), as_version=4))
    return copy.deepcopy(parsed)


def exercise_spec(exercise: Exercise, source: Any | None = None) -> ExerciseSpec:
    """The grading spec, with the checks the reference run decided must run in-kernel."""
    in_kernel = tuple(exercise.in_kernel_checks or ())

    def make() -> ExerciseSpec:
        spec = load_exercise_spec(source if source is not None else source_notebook(exercise))
        return spec.with_checks_in_kernel(in_kernel) if in_kernel else spec

    if source is not None and source != _sources.get(exercise.lesson.notebook_hash):
        return make()  # not the exercise's stored notebook: nothing to cache
    return _cached(_specs, (exercise.lesson.notebook_hash, in_kernel), make)


def submit_notebook(session: Session, exercise: Exercise, viewer: User | None, data: bytes, *,
                    limits: SubmissionLimits, settings: GradingSettings,
                    priority: int = INTERACTIVE) -> Submission:
    """Validate and store a submission in state `queued`; nothing runs yet."""
    if viewer is None:
        raise UnauthorizedError("Sign in to submit.")
    if len(data) > limits.max_bytes:
        raise PayloadTooLargeError(f"The notebook is {len(data):,} bytes; at most "
                                   f"{limits.max_bytes:,} are accepted.")
    since = utcnow() - limits.window
    recent = session.scalar(select(func.count(Submission.id)).where(
        Submission.user_id == viewer.id, Submission.exercise_id == exercise.id,
        Submission.created_at >= since))
    if recent >= limits.per_window:
        minutes = int(limits.window.total_seconds() // 60)
        raise RateLimitedError(f"At most {limits.per_window} submissions per exercise in "
                               f"{minutes} minutes; try again later.")
    source = source_notebook(exercise)
    # Rejects invalid notebooks, notebooks of another exercise and huge outputs: 400.
    prepare_submission(exercise_spec(exercise, source), source, data, settings)
    submitted = nbformat.reads(data.decode("utf-8"), as_version=4)
    sha = notebook_sha256(submitted)
    if session.get(NotebookBlob, sha) is None:
        content = canonical_json(submitted)
        session.add(NotebookBlob(sha256=sha, content=content, size=len(content)))
    # The version is recorded so progress and credentials know which one was worked on.
    version = exercise.lesson.module.course_version
    submission = Submission(exercise=exercise, user=viewer, notebook_hash=sha,
                            course_version_id=version.id, state=SubmissionState.QUEUED,
                            priority=priority, preview=is_try_out(viewer, version))
    session.add(submission)
    session.commit()
    return submission


def get_submission(session: Session, submission_id: int, viewer: User | None) -> Submission:
    """A submission its owner, or an author of the exercise's organisation, may see."""
    if viewer is None:
        raise UnauthorizedError("Sign in to see submissions.")
    submission = session.get(Submission, submission_id)
    if submission is None or not (
        submission.user_id == viewer.id or is_exercise_staff(viewer, submission.exercise)
    ):
        raise NotFoundError(f"No submission {submission_id}.")
    return submission


def list_submissions(session: Session, exercise: Exercise, viewer: User | None) -> list[Submission]:
    """A student's own submissions; all of them for the exercise's authors."""
    if viewer is None:
        raise UnauthorizedError("Sign in to see submissions.")
    query = select(Submission).where(Submission.exercise_id == exercise.id)
    if not is_exercise_staff(viewer, exercise):
        query = query.where(Submission.user_id == viewer.id)
    return list(session.scalars(query.order_by(Submission.id.desc())))


def check_pass_rates(session: Session, exercise: Exercise, viewer: User | None
                     ) -> dict[str, float]:
    """Per-check pass rate over each learner submission's latest graded run (authors only).

    Authors' try-outs (`Submission.preview`) are left out, as in the course's analytics.
    """
    if viewer is None or not is_exercise_staff(viewer, exercise):
        raise ForbiddenError("Only the exercise's authors see pass rates.")
    latest = (select(func.max(GradingRun.id)).join(Submission)
              .where(Submission.exercise_id == exercise.id, Submission.preview.is_(False),
                     GradingRun.state == SubmissionState.GRADED)
              .group_by(GradingRun.submission_id))
    rows = session.execute(
        select(CheckResult.grade_id,
               func.avg(case((CheckResult.status == "passed", 1.0), else_=0.0)))
        .where(CheckResult.run_id.in_(latest)).group_by(CheckResult.grade_id)).all()
    return {grade_id: round(float(rate), 4) for grade_id, rate in rows}


def latest_run(submission: Submission) -> GradingRun | None:
    """The most recent grading run, whose results the submission shows."""
    return submission.runs[-1] if submission.runs else None


def is_exercise_staff(viewer: User | None, exercise: Exercise) -> bool:
    """An author or admin of the organisation that owns the exercise's course."""
    return is_staff_of(viewer, exercise.lesson.module.course_version.course)

"""Submissions as use cases: hand one in, see one, list them, with who may see what.

A submission is validated and committed before any grading work starts; its
"submitted" hooks run after the commit (the dispatcher wakes a worker: see
`panlearn.wiring`). Handing one in goes through, in order:

1. a look at the student's limits (`check_limits`): uploads per exercise per
   hour, refused ones included, and submissions waiting or being graded
   across all exercises; 429 with ``Retry-After`` beyond either, before
   anything is parsed;
2. the cheap shape checks (`intake.parse_upload`): cells, outputs, nesting,
   before anything costly parses the notebook; then nbformat validation and
   matching against the exercise; 400 (or 413) when refused;
3. one transaction that locks the student (`lock_student`), counts again (the
   count that decides, so parallel uploads cannot all slip under a limit) and
   stores the upload: the `SubmissionUpload` row always (a refused notebook
   counts too), and for an accepted one its blob (idempotently) and the
   `Submission`.
"""

from __future__ import annotations

import copy
import hashlib
import math
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import nbformat
from sqlalchemy import case, delete, func, select, update
from sqlalchemy.orm import Session

from panlearn.accounts.permissions import can_view_version, is_staff_of, is_try_out
from panlearn.errors import (
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    PayloadTooLargeError,
    RateLimitedError,
    UnauthorizedError,
)
from panlearn.grading.core.errors import SubmissionRejectedError
from panlearn.grading.core.matching import prepare_submission
from panlearn.grading.core.settings import GradingSettings
from panlearn.grading.core.spec import ExerciseSpec, load_exercise_spec
from panlearn.grading.hooks import SubmissionHook, publish
from panlearn.grading.intake import NotebookShapeLimits, parse_upload
from panlearn.grading.queue import until_a_place_frees
from panlearn.models import (
    CheckResult,
    Exercise,
    GradingRun,
    Submission,
    SubmissionState,
    SubmissionUpload,
    User,
    store_notebook_blob,
    utcnow,
)
from panlearn.notebooks.canonical import canonical_json

INTERACTIVE, BULK = 0, 10


@dataclass(frozen=True)
class SubmissionLimits:
    """How much and how often a student may submit: the grader is no oracle, nor a queue."""

    max_bytes: int
    #: Uploads per student and exercise in `window`, refused ones included.
    per_window: int
    window: timedelta
    #: Submissions one student may have queued or running, across all exercises.
    waiting_per_student: int
    shape: NotebookShapeLimits = field(default_factory=NotebookShapeLimits)


def submission_limits(settings: dict[str, Any]) -> SubmissionLimits:
    """The limits the settings give (`PANLEARN_MAX_UPLOAD_MB`, `PANLEARN_SUBMISSIONS_*`)."""
    return SubmissionLimits(max_bytes=settings["MAX_UPLOAD_MB"] * 1024 * 1024,
                            per_window=settings["SUBMISSIONS_PER_HOUR"],
                            window=timedelta(hours=1),
                            waiting_per_student=settings["SUBMISSIONS_QUEUED_PER_STUDENT"])


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
                    priority: int = INTERACTIVE,
                    after_commit: Iterable[SubmissionHook] = ()) -> Submission:
    """Validate and store a submission in state `queued`, then run the ``after_commit`` hooks.

    The hooks (the dispatcher's wake-up) run only once the submission is
    committed, so nothing is lost when one fails: the workers find it queued.
    """
    if viewer is None:
        raise UnauthorizedError("Sign in to submit.")
    user_id = viewer.id
    # A student over a limit is refused before anything is parsed (a look, not a lock: the
    # count that decides is the one in the transaction that stores the upload, below).
    check_limits(session, user_id, exercise.id, limits)
    session.rollback()
    try:
        content = _validated(data, exercise, limits, settings)
    except (InvalidInputError, PayloadTooLargeError):
        # A refused notebook costs its sender one upload: parsing it cost us.
        lock_student(session, user_id)
        check_limits(session, user_id, exercise.id, limits, waiting=False)
        _count_upload(session, user_id, exercise.id, limits.window)
        session.commit()
        raise
    sha = hashlib.sha256(content).hexdigest()
    lock_student(session, user_id)
    check_limits(session, user_id, exercise.id, limits)
    _count_upload(session, user_id, exercise.id, limits.window)
    store_notebook_blob(session, sha, content)
    # The version is recorded so progress and credentials know which one was worked on.
    version = exercise.lesson.module.course_version
    submission = Submission(exercise=exercise, user_id=user_id, notebook_hash=sha,
                            course_version_id=version.id, state=SubmissionState.QUEUED,
                            priority=priority, preview=is_try_out(viewer, version))
    session.add(submission)
    session.commit()
    publish(after_commit, session, submission.id, event="submitted")
    return submission


def _count_upload(session: Session, user_id: int, exercise_id: int, window: timedelta) -> None:
    """One more upload of the student's; those older than the window are forgotten."""
    now = utcnow()
    mine = (SubmissionUpload.user_id == user_id, SubmissionUpload.exercise_id == exercise_id)
    session.execute(delete(SubmissionUpload).where(*mine,
                                                   SubmissionUpload.created_at < now - window))
    session.add(SubmissionUpload(user_id=user_id, exercise_id=exercise_id, created_at=now))


def _validated(data: bytes, exercise: Exercise, limits: SubmissionLimits,
               settings: GradingSettings) -> bytes:
    """The upload's canonical bytes, or the 4xx error that refuses it.

    Cheap checks first (`intake`): size, cells, outputs, nesting; then nbformat's
    schema, and the match with the exercise (not another exercise's notebook,
    outputs within the limit).
    """
    if len(data) > limits.max_bytes:
        raise PayloadTooLargeError(f"The notebook is {len(data):,} bytes; at most "
                                   f"{limits.max_bytes:,} are accepted.")
    document = _as_nbformat_4(parse_upload(data, limits.shape))
    content = canonical_json(document)
    source = source_notebook(exercise)
    prepare_submission(exercise_spec(exercise, source), source, document, settings)
    return content


def _as_nbformat_4(document: dict[str, Any]) -> dict[str, Any]:
    """An old (nbformat 3) notebook converted, as Jupyter would on opening it."""
    if document.get("nbformat") != 3:
        return document
    try:
        return nbformat.convert(nbformat.from_dict(document), 4)
    except Exception as exc:  # nbformat raises many kinds for a malformed old notebook
        raise SubmissionRejectedError(
            f"not a valid Jupyter notebook (nbformat 3): {str(exc)[:300]}") from exc


def lock_student(session: Session, user_id: int) -> None:
    """Serialise the transactions that count or claim one student's work, until commit.

    A no-op UPDATE of the student's row. PostgreSQL holds its row lock until the
    transaction ends, so a second request (or worker) for the same student waits
    here, then reads what the first committed (each statement reads afresh under
    READ COMMITTED); SQLite serialises all writers, and this write takes its lock
    before the counts that follow are read. Without it, two requests could both
    count 29 uploads of 30 and both be accepted.
    """
    session.execute(update(User).where(User.id == user_id).values(id=User.id)
                    .execution_options(synchronize_session=False))


def check_limits(session: Session, user_id: int, exercise_id: int, limits: SubmissionLimits,
                 *, waiting: bool = True, now: datetime | None = None) -> None:
    """Raise `RateLimitedError` (429, with `retry_after`) when the student is over a limit.

    The hourly limit counts `SubmissionUpload`s of this exercise (refused
    notebooks included); `waiting` also checks the student's queued and running
    submissions across all exercises. It decides only inside a transaction that
    began with `lock_student` and goes on to store the upload; the transaction
    is rolled back when it refuses.
    """
    now = now or utcnow()
    since = now - limits.window
    used, oldest = session.execute(
        select(func.count(SubmissionUpload.id), func.min(SubmissionUpload.created_at))
        .where(SubmissionUpload.user_id == user_id, SubmissionUpload.exercise_id == exercise_id,
               SubmissionUpload.created_at >= since)).one()
    if used >= limits.per_window:
        session.rollback()
        minutes = int(limits.window.total_seconds() // 60)
        raise RateLimitedError(
            f"At most {limits.per_window} notebooks per exercise in {minutes} minutes, "
            "refused ones included; try again later.",
            retry_after=math.ceil((oldest + limits.window - now).total_seconds()))
    if not waiting:
        return
    count = session.scalar(select(func.count(Submission.id)).where(
        Submission.user_id == user_id,
        Submission.state.in_((SubmissionState.QUEUED, SubmissionState.RUNNING))))
    cap = limits.waiting_per_student
    if count < cap:
        return
    retry_after = until_a_place_frees(session, user_id)
    session.rollback()
    raise RateLimitedError(
        f"You have {count} {'submission' if count == 1 else 'submissions'} waiting or "
        f"being graded; at most {cap} {'is' if cap == 1 else 'are'} allowed at once, across "
        f"all exercises. Submit again once {'it is' if count == 1 else 'one of them is'} "
        "graded.", retry_after=retry_after)


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

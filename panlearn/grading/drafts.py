"""Drafts: a learner's cells of an exercise, autosaved from its live page.

One draft per learner and exercise, the last save kept with its time, so a
reload, another browser or another day finds the cells as they were left. A
draft is checked like a submission before it is stored (size, then the cheap
shape checks of `intake`, then nbformat and the match with the exercise), so
the table holds only notebooks the grader would accept; it is never graded
itself ("Check my work" submits a copy through `submissions.submit_notebook`).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from panlearn.errors import PayloadTooLargeError, UnauthorizedError
from panlearn.grading.core.matching import prepare_submission
from panlearn.grading.core.settings import GradingSettings
from panlearn.grading.intake import parse_upload
from panlearn.grading.submissions import SubmissionLimits, exercise_spec, source_notebook
from panlearn.models import Exercise, ExerciseDraft, User, utcnow
from panlearn.notebooks.canonical import canonical_json


def _learner(viewer: User | None) -> User:
    if viewer is None:
        raise UnauthorizedError("Sign in to keep a draft.")
    return viewer


def get_draft(session: Session, exercise: Exercise, viewer: User | None) -> ExerciseDraft | None:
    """The viewer's own draft of the exercise, or None (nobody else's is ever reachable)."""
    learner = _learner(viewer)
    return session.scalar(select(ExerciseDraft).where(ExerciseDraft.user_id == learner.id,
                                                      ExerciseDraft.exercise_id == exercise.id))


def save_draft(session: Session, exercise: Exercise, viewer: User | None, notebook: Any, *,
               limits: SubmissionLimits, settings: GradingSettings) -> ExerciseDraft:
    """Store ``notebook`` (nbformat 4 JSON) as the viewer's draft, replacing the last one.

    400 for a notebook the grader would refuse, 413 over the upload size.
    Two saves at the same moment: the later commit wins, neither fails.
    """
    learner = _learner(viewer)
    data = json.dumps(notebook, ensure_ascii=False).encode("utf-8")
    if len(data) > limits.max_bytes:
        raise PayloadTooLargeError(f"The draft is {len(data):,} bytes; at most "
                                   f"{limits.max_bytes:,} are kept.")
    document = parse_upload(data, limits.shape)
    source = source_notebook(exercise)
    prepare_submission(exercise_spec(exercise, source), source, document, settings)
    content = canonical_json(document)
    for _ in range(2):  # an insert that lost a race becomes an update
        draft = get_draft(session, exercise, learner)
        if draft is None:
            draft = ExerciseDraft(user_id=learner.id, exercise_id=exercise.id)
            session.add(draft)
        draft.content, draft.size, draft.saved_at = content, len(content), utcnow()
        try:
            session.commit()
            return draft
        except IntegrityError:
            session.rollback()
    raise RuntimeError("the draft could not be stored")  # pragma: no cover - two lost races


def delete_draft(session: Session, exercise: Exercise, viewer: User | None) -> None:
    """Forget the viewer's draft ("reset to the original")."""
    learner = _learner(viewer)
    session.execute(delete(ExerciseDraft).where(ExerciseDraft.user_id == learner.id,
                                                ExerciseDraft.exercise_id == exercise.id))
    session.commit()


def draft_notebook(draft: ExerciseDraft) -> dict[str, Any]:
    """The stored notebook as JSON."""
    return json.loads(draft.content.decode("utf-8"))

"""Reference answers on the database: which files a student gets, and the cached values.

Checks may compare with what the reference solution computes on the student's
own data (``reference.<name>``, see `spec`). The app side of that lives here:

- `exercise_key` / `assignment_for`: the exercise's stable identity and the
  choice of file each parameter gets for a user (`datasets.resolve.assign_choices`);
- `load_reference_answers` / `store_reference_answers`: the `ReferenceAnswers`
  table, keyed by the source notebook's sha256 and the files' sha256s, shared
  by local worker processes and Celery workers on other machines alike. Rows
  are only inserted; a concurrent insert of the same key is harmless.

The grading core (`pipeline`) stays free of Flask and the database: it
receives the answers, or computes them with `compute_reference_answers`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from panlearn.datasets.resolve import (
    assign_choices,
    assigned_files,
    choice_counts,
    datasets_key,
    with_assigned_files,
)
from panlearn.grading.core.spec import ExerciseSpec, is_parameters_cell
from panlearn.models import Exercise
from panlearn.models import ReferenceAnswers as ReferenceAnswersRow

if TYPE_CHECKING:  # `answers` brings numpy: imported when answers are read or written
    from panlearn.grading.core.answers import ReferenceAnswers

log = logging.getLogger(__name__)


def exercise_key(exercise: Exercise) -> str:
    """The exercise's identity across course versions: course slug and lesson slug."""
    lesson = exercise.lesson
    return f"{lesson.module.course_version.course.slug}/{lesson.slug}"


def assignment_for(exercise: Exercise, user_id: int | None) -> dict[str, int]:
    """The choice of file each dataset parameter gets for this user (0 for anonymous)."""
    return assign_choices(exercise.datasets, exercise_key=exercise_key(exercise),
                          user_id=user_id)


def job_files(resolved: Iterable[Any]) -> dict[str, Path]:
    """The files a job reads, by the name it sees them under (``/data/<registry name>``)."""
    files: dict[str, Path] = {}
    for item in resolved:
        name = item.file if item.file not in files else f"{item.parameter}-{item.file}"
        files[name] = item.path
    return files


#: The pseudo-parameter naming which values were taken: the cache key changes with it.
VALUES_KEY = "@values"


def checksums_of(resolved: Iterable[Any], spec: ExerciseSpec) -> dict[str, str]:
    """Parameter → sha256 of the file it is given, and which values the checks take.

    The values are part of the key: a row stored when checks took fewer names
    from the reference (before context was trusted) is never used for a spec
    that needs more.
    """
    wanted = json.dumps([[c.grade_id, list(c.trusted_names)] for c in spec.checks])
    return {**{item.parameter: item.sha256 for item in resolved},
            VALUES_KEY: hashlib.sha256(wanted.encode()).hexdigest()}


def load_reference_answers(session: Session, solution_hash: str,
                           checksums: Mapping[str, str]) -> ReferenceAnswers | None:
    """The cached reference answers of this solution on these files, or None."""
    from panlearn.grading.core.answers import decode_answers

    row = session.scalar(select(ReferenceAnswersRow).where(
        ReferenceAnswersRow.solution_hash == solution_hash,
        ReferenceAnswersRow.datasets_key == datasets_key(checksums)))
    return None if row is None else decode_answers(row.answers)


def add_reference_answers(session: Session, solution_hash: str, checksums: Mapping[str, str],
                          answers: ReferenceAnswers | bytes) -> None:
    """Add a row to the caller's transaction unless one exists (import: one transaction)."""
    key = datasets_key(checksums)
    exists = session.scalar(select(ReferenceAnswersRow.id).where(
        ReferenceAnswersRow.solution_hash == solution_hash,
        ReferenceAnswersRow.datasets_key == key))
    if exists is not None:
        return
    from panlearn.grading.core.answers import encode_answers

    data = answers if isinstance(answers, bytes) else encode_answers(answers)
    session.add(ReferenceAnswersRow(solution_hash=solution_hash, datasets_key=key,
                                    dataset_checksums=dict(checksums), answers=data,
                                    size=len(data)))
    session.flush()


def store_reference_answers(session: Session, solution_hash: str, checksums: Mapping[str, str],
                            answers: ReferenceAnswers) -> None:
    """Insert and commit, idempotently: a worker that lost the race keeps the other's row.

    The values are the same either way (same solution, same files), so
    whichever insert wins, the cache is right.
    """
    try:
        add_reference_answers(session, solution_hash, checksums, answers)
        session.commit()
    except IntegrityError:
        session.rollback()
        log.info("reference answers for %s were stored by another worker", solution_hash[:12])


@dataclass
class ExerciseValidation:
    """What import validation learnt from grading the reference solution on every file choice."""

    #: Checks that must run in the student's kernel (decided from the trusted reference).
    in_kernel_checks: list[str] = field(default_factory=list)
    #: For exercises whose checks read ``reference.<name>``: per combination of files,
    #: (parameter → file sha256, `encode_answers` bytes), to store before any student submits.
    reference_answers: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


def with_viewers_files(notebook: Any, exercise: Exercise | None, user_id: int | None) -> Any:
    """The notebook with its parameters cell naming the files this user was assigned.

    For the student's download: the bare file names they work with locally are
    the files the platform will grade them on. Unchanged for anonymous viewers
    and for exercises without choices.
    """
    if exercise is None or user_id is None:
        return notebook
    if all(count <= 1 for count in choice_counts(exercise.datasets).values()):
        return notebook
    files = assigned_files(exercise.datasets, assignment_for(exercise, user_id))
    for cell in notebook.cells:
        if cell.get("cell_type") == "code" and is_parameters_cell(cell):
            cell.source = with_assigned_files(cell.source, files)
    return notebook

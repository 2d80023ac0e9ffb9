"""The checks of an import that read the database or run code, but write nothing.

`folder.read_course_folders` checks what a course folder says on its own;
this module checks the rest, so that validating a course (CLI, API,
workspace) refuses exactly what importing it would refuse:

- the organisation exists (whatever the case of its slug, with a suggestion
  when it does not), the author belongs to it, and the slug is not another
  organisation's course;
- each exercise's reference solution scores full marks on every file it may
  be given and its blank student version scores 0 (`reference_grading`).

An import skips the grading of what an earlier import already graded (the
same course, or the same notebook); a validation grades everything whose
data is at hand. Each grading is announced to the `ImportReport` before it
starts and recorded when it ends, so a page can show the progress.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from panlearn.accounts.permissions import is_staff_of, require_author
from panlearn.authoring.folder import MANIFEST
from panlearn.authoring.manifest import CourseSource, LessonSource, Problem, match_organisation
from panlearn.authoring.report import (
    FAILED,
    PASSED,
    REUSED,
    SKIPPED,
    ExerciseReport,
    ImportReport,
)
from panlearn.datasets.errors import DatasetSpecError
from panlearn.datasets.resolve import validate_dataset_choices
from panlearn.datasets.settings import DatasetsContext
from panlearn.errors import (
    ConflictError,
    ForbiddenError,
    PanlearnError,
    UpstreamError,
    UpstreamUnavailableError,
)
from panlearn.grading.core.nbgrader import meta as nbgrader_meta
from panlearn.grading.validation import Validator
from panlearn.models import Course, Organisation, User

log = logging.getLogger(__name__)

#: Whether every data file an exercise may be given is on this machine (cache or mirror).
DataAtHand = Callable[[list[dict]], bool]


@dataclass(frozen=True)
class Grading:
    """How exercises are graded: the validator, and what may be skipped."""

    validate_exercise: Validator | None
    #: Validation regrades everything; an import trusts earlier imports' gradings.
    regrade: bool = False
    #: When given, an exercise whose data is not at hand is skipped (validation offline).
    data_at_hand: DataAtHand | None = None


def check_courses(session: Session, sources: Sequence[CourseSource], *, actor: User | None,
                  grading: Grading, report: ImportReport) -> list[Problem]:
    """Every problem an import of `sources` would meet, without writing anything.

    Each problem is also added to `report` as it is found.

    Raises `ForbiddenError` when `actor` may not import one of the courses and
    `ConflictError` when a slug is another organisation's; those are not the
    course's problems but the caller's.
    """
    problems = _organisation_problems(session, sources, actor)
    report.add_problems(problems)
    return problems + _grade_exercises(session, sources, grading, report)


def _organisation_problems(session: Session, sources: Sequence[CourseSource],
                           actor: User | None) -> list[Problem]:
    known = {org.slug: org.name for org in session.scalars(select(Organisation))}
    problems: list[Problem] = []
    if actor is not None:
        require_author(actor)
    for source in sources:
        written = source.manifest.get("organisation")
        if not isinstance(written, str):
            continue  # a missing field is already a manifest problem
        matched, message = match_organisation(written, known)
        if matched is None:
            problems.append(Problem(_shown(source, MANIFEST), message, field="organisation"))
            continue
        source.manifest["organisation"] = matched
        organisation = session.scalar(select(Organisation).where(Organisation.slug == matched))
        course = session.scalar(select(Course).where(Course.slug == source.slug))
        if actor is not None and organisation is not None \
                and organisation.id != actor.organisation_id:
            raise ForbiddenError(f"Course {source.slug!r} is published by {matched!r}; you may "
                                 "only import courses of your own organisation.")
        if course is not None and organisation is not None \
                and course.organisation_id != organisation.id:
            raise ConflictError(f"The course slug {source.slug!r} belongs to another "
                                "organisation.")
        if course is not None and actor is not None and not is_staff_of(actor, course):
            raise ForbiddenError("Only authors of the course's organisation may change it.")
    return problems


def _shown(source: CourseSource, relative: str) -> str:
    return f"{source.display}/{relative}" if source.display else relative


def _grade_exercises(session: Session, sources: Sequence[CourseSource], grading: Grading,
                     report: ImportReport) -> list[Problem]:
    work: list[tuple[CourseSource, LessonSource, ExerciseReport]] = []
    for source in sources:
        course = session.scalar(select(Course).where(Course.slug == source.slug))
        latest = course.versions[-1] if course is not None and course.versions else None
        unchanged = latest is not None and latest.source_hash in (source.source_hash,
                                                                   source.legacy_hash)
        graded_before = _graded_notebooks(course)
        for lesson in source.exercises():
            file = _shown(source, lesson.source_path)
            before = graded_before.get(lesson.notebook_hash)
            if not grading.regrade and unchanged:
                report.plan(source.slug, file, lesson.title, REUSED,
                            f"unchanged since version {latest.number}")
            elif not grading.regrade and before is not None:
                lesson.in_kernel_checks = list(before[1])
                report.plan(source.slug, file, lesson.title, REUSED,
                            f"same notebook as version {before[0]}, graded then")
            elif grading.validate_exercise is None:
                report.plan(source.slug, file, lesson.title, SKIPPED,
                            "reference grading is off (PANLEARN_GRADING_VALIDATE=false)")
            elif grading.data_at_hand is not None and not grading.data_at_hand(lesson.datasets):
                report.plan(source.slug, file, lesson.title, SKIPPED,
                            "not graded: its data files are not on this machine (set "
                            "PANLEARN_DATA_DIRS, or `flask --app app datasets fetch NAME`)")
            else:
                work.append((source, lesson, report.plan(source.slug, file, lesson.title)))
    report.changed()
    # Everything read: end the read transaction before grading, which takes minutes. A
    # snapshot held that long would stall PostgreSQL's vacuum, and SQLite would refuse the
    # import's write after others committed meanwhile. Nothing has been written.
    session.rollback()
    problems: list[Problem] = []
    for source, lesson, entry in work:
        report.start(entry)
        try:
            validation = grading.validate_exercise(lesson.notebook, lesson.datasets)
        except (UpstreamError, UpstreamUnavailableError) as error:
            # The data cannot be fetched here (offline machine, host down): import anyway,
            # unvalidated; grading reports the same problem if it persists.
            log.warning("%s/%s: reference solution not graded, its data is unavailable: %s",
                        source.slug, lesson.source_path, error.detail)
            report.finish(entry, SKIPPED, f"not graded: its data is unavailable "
                                          f"({error.detail})")
            continue
        except PanlearnError as error:
            problem = _grading_problem(entry.file, lesson, error)
            problems.append(problem)
            report.finish(entry, FAILED, problem.message)
            report.add_problems([problem])
            continue
        lesson.in_kernel_checks = list(validation.in_kernel_checks)
        lesson.reference_answers = list(validation.reference_answers)
        report.finish(entry, PASSED, "full marks with the solution, 0 without answers")
    return problems


def _graded_notebooks(course: Course | None) -> dict[str, tuple[int, list[str]]]:
    """Exercise notebooks of earlier versions that passed grading: hash → (version, in-kernel)."""
    found: dict[str, tuple[int, list[str]]] = {}
    for version in course.versions if course is not None else ():
        for module in version.modules:
            for lesson in module.lessons:
                exercise = lesson.exercise
                if exercise is not None and exercise.validated_at is not None:
                    found[lesson.notebook_hash] = (version.number,
                                                   list(exercise.in_kernel_checks or []))
    return found


def _grading_problem(file: str, lesson: LessonSource, error: PanlearnError) -> Problem:
    detail = error.detail
    if "reference solution" not in detail and "blank student version" not in detail:
        detail = f"reference solution: {detail}"
    failing = (error.errors or {}).get("checks") or []
    cell = None
    for index, notebook_cell in enumerate(lesson.notebook.cells):
        if failing and nbgrader_meta(notebook_cell).get("grade_id") == failing[0]:
            cell = index + 1
            break
    return Problem(file, detail, cell=cell)


def data_at_hand(data: DatasetsContext) -> DataAtHand:
    """A check that every file the exercise may be given is cached or in a local mirror."""
    def at_hand(datasets: list[dict]) -> bool:
        try:
            entries = validate_dataset_choices(datasets, registry=data.registry)
        except DatasetSpecError:
            return False
        return all(data.file_cache.has_local(dataset, item)
                   for entry in entries for _, dataset, item in entry.choices)

    return at_hand

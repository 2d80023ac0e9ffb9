"""The shipped courses: they import, every reference solution scores full marks, the student
version scores zero with actionable messages, and plausible mistakes lose the right points."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from sqlalchemy import select

from panlearn.wiring import services_of
from tests.integration.courses.conftest import (
    COURSES,
    REPO_ROOT,
    ShippedLesson,
    declared_mistakes,
    shipped_lessons,
    shipped_sources,
)

pytestmark = pytest.mark.slow

EXERCISES = shipped_lessons("exercise")
MISTAKES = declared_mistakes()


def test_every_shipped_course_imports_and_every_reference_solution_scores_full_marks(app):
    """The import path of `flask setup`: organisations, then courses, each exercise validated
    by grading its reference solution on the real data in the real sandbox."""
    from panlearn.authoring.folder import load_course_folders
    from panlearn.authoring.service import import_courses
    from panlearn.extensions import db
    from panlearn.grading.core.settings import grading_settings
    from panlearn.grading.validation import in_process_validator
    from panlearn.models import Course, Exercise
    from panlearn.organisations import load_organisations_file, sync_organisations

    data = services_of(app).datasets
    with app.app_context():
        sync_organisations(db.session, load_organisations_file(REPO_ROOT / "content" /
                                                               "organisations.yml"))
        db.session.commit()
        sources = load_course_folders(COURSES, registry=data.registry)
        results = import_courses(
            db.session, sources, publish=True,
            validate_exercise=in_process_validator(grading_settings(app.config["PANLEARN"]), data))
        assert {r.slug for r in results} == {s.slug for s in sources}
        assert all(r.status == "published" for r in results)
        courses = db.session.scalars(select(Course)).all()
        assert len(courses) == len(sources) >= 3
        exercises = db.session.scalars(select(Exercise)).all()
        assert len(exercises) == len(EXERCISES)
        assert all(exercise.points > 0 for exercise in exercises)


@pytest.fixture(scope="module")
def validated(course_pool, course_grading_settings, resolve_parameters):
    """Exercise id → (spec, parameters, data files, reference answers), from grading each
    reference solution (on the first choice of files, where an exercise offers several)."""
    from panlearn.grading.core.pipeline import validate_reference_solution

    cache: dict[str, Any] = {}

    def get(lesson: ShippedLesson):
        if lesson.id not in cache:
            parameters, files = resolve_parameters(lesson)
            spec, outcome = validate_reference_solution(
                lesson.notebook(), parameters=parameters, data_files=files,
                settings=course_grading_settings, pool=course_pool)
            assert outcome.score == outcome.max_score > 0
            cache[lesson.id] = (spec, parameters, files, outcome.reference_answers)
        return cache[lesson.id]

    return get


def _grade(lesson: ShippedLesson, submission, validated, course_pool, course_grading_settings):
    from panlearn.grading.core.pipeline import grade_notebook

    spec, parameters, files, reference = validated(lesson)
    return grade_notebook(lesson.notebook(), submission, parameters=parameters, data_files=files,
                          settings=course_grading_settings, pool=course_pool, spec=spec,
                          reference=reference)


@pytest.mark.parametrize("lesson", EXERCISES, ids=lambda lesson: lesson.id)
def test_unchanged_student_version_scores_zero_with_actionable_messages(
        lesson, validated, course_pool, course_grading_settings):
    from panlearn.notebooks.student import make_student_version

    student = make_student_version(lesson.notebook())
    text = "".join(cell.source for cell in student.cells)
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text
    outcome = _grade(lesson, student, validated, course_pool, course_grading_settings)
    assert outcome.score == 0
    for check in outcome.checks:
        assert check.status == "failed", check.grade_id
        assert check.output.strip(), f"{check.grade_id} fails without a message"
        assert "NotImplementedError" in check.output or "not defined" in check.output, check.output


def _with_mistake(notebook, answers: dict[str, str]):
    """The reference solution, with the given solution cells replaced as a student would."""
    from panlearn.notebooks.student import make_student_version

    reference = {cell.metadata["nbgrader"]["grade_id"]: cell.source for cell in notebook.cells
                 if cell.metadata.get("nbgrader", {}).get("solution")}
    unknown = set(answers) - set(reference)
    assert not unknown, f"no solution cell with grade_id {sorted(unknown)}"
    submission = make_student_version(notebook)
    for cell in submission.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = answers.get(grade_id, reference[grade_id])
    return copy.deepcopy(submission)


@pytest.mark.parametrize(("course", "mistake"), MISTAKES,
                         ids=[f"{course}/{m.label}" for course, m in MISTAKES])
def test_a_plausible_mistake_loses_the_checks_points_with_a_pointed_message(
        course, mistake, validated, course_pool, course_grading_settings):
    [lesson] = [e for e in EXERCISES if e.course == course and e.path.name == mistake.lesson_file]
    outcome = _grade(lesson, _with_mistake(lesson.notebook(), mistake.answers), validated,
                     course_pool, course_grading_settings)
    checks = {check.grade_id: check for check in outcome.checks}
    failing = checks[mistake.failing_check]
    assert failing.score == 0 and failing.status == "failed" and failing.ran, failing
    assert mistake.message_fragment.lower() in failing.output.lower(), failing.output
    assert outcome.score < outcome.max_score


def test_every_course_is_a_real_course_and_all_registry_datasets_are_used():
    from panlearn.datasets.registry import Registry

    used: set[str] = set()
    for source in shipped_sources():
        lessons = [lesson for module in source.modules for lesson in module.lessons]
        exercises = [lesson for lesson in lessons if lesson.kind == "exercise"]
        assert len(source.modules) >= 2, source.slug
        assert len(lessons) >= 4, source.slug
        assert len(exercises) >= 2, source.slug
        manifest = source.manifest
        assert manifest["licence"] == "CC-BY-4.0" and manifest["authors"], source.slug
        assert manifest["objectives"] and manifest["prerequisites"], source.slug
        used |= {choice["dataset"] for lesson in lessons for spec in lesson.datasets
                 for choice in spec.get("choices", [spec])}
    registry = Registry.load(REPO_ROOT / "content" / "datasets.yml")
    assert {dataset.name for dataset in registry} <= used


def test_every_exercise_has_a_declared_plausible_mistake():
    covered = {(course, mistake.lesson_file) for course, mistake in MISTAKES}
    missing = [e.id for e in EXERCISES if (e.course, e.path.name) not in covered]
    assert not missing, f"declare a plausible mistake in mistakes_<course>.py for {missing}"


def test_every_shipped_question_takes_its_own_answer_and_never_shows_it_to_students():
    """Quizzes of the shipped courses: keys grade full marks; student versions hold no key."""
    from panlearn.notebooks.student import make_student_version
    from panlearn.quizzes.blocks import find_blocks, read_questions
    from panlearn.quizzes.grading import grade

    counted = 0
    for lesson in shipped_lessons():
        found, problems = read_questions(lesson.notebook())
        assert problems == {}, lesson.id
        student = make_student_version(lesson.notebook())
        public = "".join(block.body for cell in student.cells if cell.cell_type == "markdown"
                         for block in find_blocks(cell.source))
        for item in found:
            question = item.question
            key = {"choice": lambda q: q.correct_indices()[0],
                   "multi": lambda q: list(q.correct_indices()),
                   "numeric": lambda q: q.answer,
                   "text": lambda q: None if q.regex else q.answers[0]}[question.type](question)
            if key is not None:
                assert grade(question, key).correct, (lesson.id, question.id)
            assert "correct:" not in public and "explanation:" not in public, lesson.id
            counted += 1
    assert counted >= 20


def test_the_onboarding_course_has_quizzes_in_every_reading_and_cites_its_source():
    from panlearn.quizzes.blocks import read_questions

    readings = [lesson for lesson in shipped_lessons("reading")
                if lesson.course == "fair-data-at-pan-facilities"]
    assert len(readings) == 4
    for lesson in readings:
        notebook = lesson.notebook()
        assert len(read_questions(notebook)[0]) >= 4, lesson.id
        text = "".join(cell.source for cell in notebook.cells)
        assert "LEAPS plenary, 21 October 2021" in text, f"{lesson.id} does not cite the talk"

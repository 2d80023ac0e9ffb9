"""A site with one of every page type: the shipped courses, a student, a result, a certificate.

The browser tests (accessibility, layout) and `scripts/screenshots` both build it,
so that what the tests check is what the screenshots show. Everything is real
(the shipped courses imported and published, the search index, a signed
credential) except, unless asked for, the grading run: `record_graded_run`
writes one as the worker writes it, so the pages can be looked at without
kernels; `grade_for_real` runs the sandboxed grader on the real data.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import nbformat
from flask import Flask
from sqlalchemy import select

from panlearn import create_app
from panlearn.authoring.folder import load_course_folders
from panlearn.authoring.service import import_courses
from panlearn.credentials.service import issue_credential, issuer_config
from panlearn.extensions import db
from panlearn.models import (
    CheckResult,
    Course,
    GradingRun,
    Lesson,
    NotebookBlob,
    Submission,
    SubmissionState,
    User,
    utcnow,
)
from panlearn.notebooks.canonical import canonical_json, notebook_sha256
from panlearn.notebooks.student import make_student_version
from panlearn.organisations import load_organisations_file, sync_organisations
from panlearn.wiring import services_of
from tests.builders import make_user
from tests.conftest import REPO_ROOT

STUDENT, AUTHOR = "ada", "marie"
#: The lessons the tour looks at: (course slug, notebook file).
READING = ("powder-diffraction", "02-bragg-law-and-d-spacings.ipynb")
EXERCISE = ("powder-diffraction", "03-exercise-peaks-and-d-spacings.ipynb")
SLIDES = ("small-angle-scattering", "04-radial-averaging.ipynb")
CERTIFIED = "reading-nexus"

#: A partly wrong answer to EXERCISE: the peaks are right, the d-spacings forget that
#: np.sin takes radians (the check says so), Q follows from d.
WRONG_ANSWERS = {
    "peaks": "indices, _ = find_peaks(counts, prominence=200)\n"
             "peak_two_theta = two_theta[indices]",
    "dspacing": "d_spacing = wavelength / (2 * np.sin(peak_two_theta / 2))",
    "qvalues": "q_values = 2 * np.pi / d_spacing",
}


@dataclass
class Tour:
    """Ids of what the pages show, and the page addresses by page type."""

    lessons: dict[str, int]
    exercise_id: int
    credential: str = ""
    submission: int = 0
    pages: dict[str, str] = field(default_factory=dict)

    def add_pages(self) -> None:
        """The page types of issue 16 (and the rest), by name."""
        reading, exercise, slides = (self.lessons[name] for name in ("reading", "exercise",
                                                                      "slides"))
        self.pages.update({
            "catalogue": "/",
            "course": "/courses/powder-diffraction",
            "lesson": f"/lessons/{reading}",
            "exercise": f"/lessons/{exercise}",
            "slides": f"/lessons/{slides}/slides",
            "embed": f"/embed/lessons/{reading}",
            "embed-figure": f"/embed/lessons/{reading}?cell=pd02-07&part=output",
            "search": "/search?q=bragg",
            "search-technique": "/search?q=technique:SANS",
            "sign-in": "/login",
            "not-found": "/courses/no-such-course",
        })
        if self.submission:
            self.pages["result"] = f"/submissions/{self.submission}"
            self.pages["notebook-as-it-ran"] = f"/submissions/{self.submission}/notebook"
        if self.credential:
            self.pages["credential"] = f"/credentials/{self.credential}"


def lesson_id(slug: str, notebook: str) -> int:
    """The id of a lesson of a course's newest version, by its notebook file."""
    course = db.session.scalar(select(Course).where(Course.slug == slug))
    for module in course.versions[-1].modules:
        for lesson in module.lessons:
            if lesson.source_path.endswith(notebook):
                return lesson.id
    raise LookupError(f"{slug} has no lesson {notebook}")


def populate(app: Flask) -> Tour:
    """Organisations, the shipped courses (published, indexed), a student and an author."""
    with app.app_context():
        entries = load_organisations_file(REPO_ROOT / "content" / "organisations.yml")
        sync_organisations(db.session, entries)
        import_courses(db.session, load_course_folders(REPO_ROOT / "courses"), publish=True,
                       after_commit=services_of(app).course_hooks)
    make_user(app, STUDENT)
    make_user(app, AUTHOR, "author", "psi")
    with app.app_context():
        lessons = {"reading": lesson_id(*READING), "exercise": lesson_id(*EXERCISE),
                   "slides": lesson_id(*SLIDES)}
        exercise = db.session.get(Lesson, lessons["exercise"]).exercise
        tour = Tour(lessons=lessons, exercise_id=exercise.id)
    tour.add_pages()
    return tour


def answered_notebook(app: Flask, exercise_lesson: int,
                      answers: dict[str, str] | None = None) -> Any:
    """The student version of an exercise with its solution cells (by grade id) filled in."""
    with app.app_context():
        lesson = db.session.get(Lesson, exercise_lesson)
        source = nbformat.reads(lesson.notebook.content.decode(), as_version=4)
    notebook = make_student_version(source)
    for cell in notebook.cells:
        grade_id = (cell.metadata.get("nbgrader") or {}).get("grade_id")
        if grade_id in (answers or WRONG_ANSWERS):
            cell.source = (answers or WRONG_ANSWERS)[grade_id]
    return notebook


def record_graded_run(app: Flask, tour: Tour, username: str = STUDENT) -> int:
    """A graded submission of the wrong answers, written as the grading worker writes it.

    The check messages are the exercise's own; the executed notebook is the
    submitted one (no outputs: nothing ran).
    """
    notebook = answered_notebook(app, tour.lessons["exercise"])
    content = canonical_json(notebook)
    sha = notebook_sha256(notebook)
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        if db.session.get(NotebookBlob, sha) is None:
            db.session.add(NotebookBlob(sha256=sha, content=content, size=len(content)))
        checks = [
            ("check-peaks", "passed", 2, 2, ""),
            ("check-d-spacing", "failed", 0, 2,
             "AssertionError: d_spacing should hold positive lengths in ångström; a negative "
             "value usually means np.sin was given degrees: convert with np.radians first"),
            ("check-q", "passed", 1, 1, ""),
        ]
        now = utcnow()
        submission = Submission(exercise_id=tour.exercise_id, user_id=user.id,
                                notebook_hash=sha, state=SubmissionState.GRADED, score=3,
                                max_score=5, attempts=1, finished_at=now)
        submission.runs = [GradingRun(
            state=SubmissionState.GRADED, grader_version="tour", check_suite_hash="1" * 64,
            score=3, max_score=5, executed_notebook_hash=sha, finished_at=now,
            checks=[CheckResult(position=index, grade_id=grade_id, name=grade_id, status=status,
                                score=score, max_score=points, output=output)
                    for index, (grade_id, status, score, points, output) in enumerate(checks)])]
        db.session.add(submission)
        db.session.commit()
        tour.submission = submission.id
    tour.add_pages()
    return tour.submission


def grade_for_real(app: Flask, tour: Tour, username: str = STUDENT,
                   timeout: float = 120) -> int:
    """Submit the wrong answers and let a real sandboxed worker grade them (needs bwrap)."""
    from panlearn.grading.core.settings import grading_settings
    from panlearn.grading.runtime import LocalDispatcher
    from panlearn.grading.submissions import submission_limits, submit_notebook

    notebook = answered_notebook(app, tour.lessons["exercise"])
    app.config["PANLEARN"]["GRADING_WORKERS"] = 1
    dispatcher = LocalDispatcher(services_of(app).settings, app_factory=create_app)
    try:
        with app.app_context():
            user = db.session.scalar(select(User).where(User.username == username))
            exercise = db.session.get(Lesson, tour.lessons["exercise"]).exercise
            settings = app.config["PANLEARN"]
            submission = submit_notebook(db.session, exercise, user,
                                         nbformat.writes(notebook).encode(),
                                         limits=submission_limits(settings),
                                         settings=grading_settings(settings))
            submission_id = submission.id
        dispatcher.enqueue(submission_id)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with app.app_context():
                state = db.session.get(Submission, submission_id).state
                db.session.remove()
            if state in (SubmissionState.GRADED, SubmissionState.FAILED):
                break
            time.sleep(0.2)
        else:
            raise TimeoutError(f"submission {submission_id} not graded in {timeout} s")
    finally:
        dispatcher.stop()
    tour.submission = submission_id
    tour.add_pages()
    return submission_id


def certify(app: Flask, tour: Tour, username: str = STUDENT, slug: str = CERTIFIED) -> str:
    """Issue the student a signed completion credential for a course (as completion does)."""
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        version = db.session.scalar(select(Course).where(Course.slug == slug)).versions[-1]
        credential = issue_credential(db.session, user, version,
                                      config=issuer_config(app.config["PANLEARN"]))
        tour.credential = credential.id
    tour.add_pages()
    return tour.credential

"""Checks against the student's own dataset: each student gets one of several real files, and
checks compare with what the reference solution computes on that same file.

The shipped exercise `reading-nexus/09-exercise-your-own-nexus-file` hands out `dmc01.h5` or
`lrcs3701.nx5`. Everything here runs for real: the database, the worker's
`process_submission` (in this process, so a spy can count reference runs), sandboxed kernels
and the clean check runner.
"""

from __future__ import annotations

import copy
import json
import shutil

import nbformat
import pytest
import yaml
from sqlalchemy import func, select

from panlearn.authoring.folder import CourseFolderError, load_course_folders
from panlearn.authoring.service import import_courses
from panlearn.extensions import db
from panlearn.grading import jobs
from panlearn.grading.core.settings import grading_settings
from panlearn.grading.jobs import GradingContext, process_submission
from panlearn.grading.reference import assignment_for, store_reference_answers
from panlearn.grading.validation import in_process_validator
from panlearn.models import Exercise, GradingRun, ReferenceAnswers, Submission, User
from panlearn.notebooks.student import make_student_version
from panlearn.wiring import services_of
from tests.builders import make_org, make_user, token_for
from tests.conftest import REPO_ROOT
from tests.integration.submissions.conftest import dump, submit

pytestmark = pytest.mark.slow

COURSE = REPO_ROOT / "courses" / "reading-nexus"
EXERCISE = "09-exercise-your-own-nexus-file.ipynb"
#: What the reference solution finds in each file (the checks never print these).
TOTALS = {"dmc01.h5": 73103.0, "lrcs3701.nx5": 2666912.0}


def own_file_course(folder, notebook=None):
    """A course folder holding only the own-file exercise (optionally a changed notebook)."""
    folder.mkdir()
    manifest = yaml.safe_load((COURSE / "course.yml").read_text())
    manifest["modules"] = [{"title": "Your own file",
                            "lessons": [{"notebook": EXERCISE, "kind": "exercise"}]}]
    (folder / "course.yml").write_text(yaml.safe_dump(manifest))
    if notebook is None:
        shutil.copy(COURSE / EXERCISE, folder / EXERCISE)
    else:
        nbformat.write(notebook, str(folder / EXERCISE))
    return folder


def source_notebook():
    return nbformat.read(str(COURSE / EXERCISE), as_version=4)


def with_answers(answers: dict[str, str]):
    """The reference solution with some solution cells replaced, as a student hands it in."""
    source = source_notebook()
    reference = {cell.metadata["nbgrader"]["grade_id"]: cell.source for cell in source.cells
                 if cell.metadata.get("nbgrader", {}).get("solution")}
    notebook = make_student_version(source)
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = answers.get(grade_id, reference[grade_id].replace(
                "### BEGIN SOLUTION\n", "").replace("\n### END SOLUTION", ""))
    return copy.deepcopy(notebook)


@pytest.fixture
def course_app(app, tmp_path, bubblewrap):
    app.config["PANLEARN"].update({"GRADING_TIMEOUT_S": 30.0, "GRADING_CELL_TIMEOUT_S": 10.0,
                                   "SUBMISSIONS_PER_HOUR": 50})
    make_org(app, "psi")
    return app


def import_course(app, folder, *, validate: bool) -> int:
    with app.app_context():
        data = services_of(app).datasets
        validator = (in_process_validator(grading_settings(app.config["PANLEARN"]), data)
                     if validate else None)
        import_courses(db.session, load_course_folders(folder, registry=data.registry),
                       publish=True, validate_exercise=validator)
        return db.session.scalar(select(Exercise.id))


def students_on_each_file(app, exercise_id) -> dict[str, str]:
    """Sign up students until one is assigned each file; file name → username."""
    found: dict[str, str] = {}
    for n in range(40):
        username = f"student{n}"
        make_user(app, username)
        with app.app_context():
            exercise = db.session.get(Exercise, exercise_id)
            user = db.session.scalar(select(User).where(User.username == username))
            choice = assignment_for(exercise, user.id)["data_file"]
        found.setdefault(["dmc01.h5", "lrcs3701.nx5"][choice], username)
        if len(found) == 2:
            return found
    raise AssertionError("40 students, all on one file: the assignment does not spread")


@pytest.fixture
def reference_runs(monkeypatch):
    """Counts the runs of the reference solution the worker makes (the cache's misses)."""
    calls: list[list[str]] = []
    real = jobs.pipeline.compute_reference_answers

    def spy(source, **kwargs):
        calls.append([str(path) for path in kwargs["data_files"]])
        return real(source, **kwargs)

    monkeypatch.setattr(jobs.pipeline, "compute_reference_answers", spy)
    return calls


def grade(app, client, exercise_id, headers, notebook) -> dict:
    """Submit through the API, grade in this process as a worker does, return the result."""
    response = submit(client, exercise_id, headers, notebook)
    assert response.status_code == 202, response.get_json()
    submission_id = response.get_json()["id"]
    with app.app_context():
        context = GradingContext(settings=grading_settings(app.config["PANLEARN"]),
                                 datasets=services_of(app).datasets,
                                 on_graded=services_of(app).graded_hooks)
        assert process_submission(db.session, submission_id, context)
    return client.get(response.headers["Location"], headers=headers).get_json()


def rows(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(ReferenceAnswers.id)))


def test_each_student_is_graded_against_the_reference_on_their_own_file_computed_once(
        course_app, tmp_path, reference_runs):
    app = course_app
    exercise_id = import_course(app, own_file_course(tmp_path / "own"), validate=False)
    students = students_on_each_file(app, exercise_id)
    client = app.test_client()
    headers = {name: token_for(client, username) for name, username in students.items()}
    assert rows(app) == 0  # imported without validation: nothing cached yet

    # The same generic code scores full marks on either file: the checks compare with the
    # reference solution's values on that student's own file.
    right = with_answers({})
    results = {name: grade(app, client, exercise_id, headers[name], right) for name in students}
    for body in results.values():
        assert (body["state"], body["score"], body["max_score"]) == ("graded", 5, 5), dump(body)
    assert sorted(len(call) for call in reference_runs) == [1, 1]
    assert sorted(call[0].rsplit("/", 1)[-1] for call in reference_runs) == sorted(TOTALS)
    assert rows(app) == 2

    # A student who copies the other file's answer fails that check; the cache is hit now.
    for name, other in (("dmc01.h5", "lrcs3701.nx5"), ("lrcs3701.nx5", "dmc01.h5")):
        copied = with_answers({"total-counts": f"total_counts = {TOTALS[other]!r}"})
        body = grade(app, client, exercise_id, headers[name], copied)
        failed = {c["grade_id"]: c for c in body["checks"] if not c["passed"]}
        assert set(failed) == {"check-total-counts"}, dump(body)
        assert "copied from another file" in failed["check-total-counts"]["message"]
        # The message shows the student's own value, never the expected one.
        assert str(int(TOTALS[name])) not in json.dumps(body)
    assert len(reference_runs) == 2 and rows(app) == 2

    # Each run records the file it was graded on: the student's assigned one.
    with app.app_context():
        for name, username in students.items():
            user = db.session.scalar(select(User).where(User.username == username))
            runs = db.session.scalars(select(GradingRun).join(Submission)
                                      .where(Submission.user_id == user.id)).all()
            assert runs and all(set(run.dataset_checksums) == {name} for run in runs)

    # A resubmission gets the same file; the page and the download name it.
    for name in students:
        page = client.get(f"/lessons/{lesson_id(app, exercise_id)}", headers=headers[name])
        text = page.get_data(as_text=True)
        assert name in text and (set(TOTALS) - {name}).pop() not in text.split("Your data")[1]
        download = client.get(f"/api/lessons/{lesson_id(app, exercise_id)}/notebook",
                              headers=headers[name])
        notebook = nbformat.reads(download.get_data(as_text=True), as_version=4)
        [parameters] = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
        assert f"data_file = {name!r}" in parameters.source
    anonymous = client.get(f"/lessons/{lesson_id(app, exercise_id)}").get_data(as_text=True)
    assert all(name in anonymous for name in TOTALS)


def lesson_id(app, exercise_id) -> int:
    with app.app_context():
        return db.session.get(Exercise, exercise_id).lesson_id


def test_import_validates_every_choice_and_stores_the_reference_answers(
        course_app, tmp_path, reference_runs):
    app = course_app
    exercise_id = import_course(app, own_file_course(tmp_path / "own"), validate=True)
    with app.app_context():
        exercise = db.session.get(Exercise, exercise_id)
        assert exercise.validated_at is not None and exercise.in_kernel_checks == []
        stored = db.session.scalars(select(ReferenceAnswers)).all()
        assert len(stored) == 2
        assert all(row.solution_hash == exercise.lesson.notebook_hash for row in stored)
        assert b"pickle" not in b"".join(row.answers for row in stored)
        # Two workers storing the same answers at once: the second insert is a no-op.
        row = stored[0]
        store_reference_answers(db.session, row.solution_hash, row.dataset_checksums, {})
        assert db.session.scalar(select(func.count(ReferenceAnswers.id))) == 2
    students = students_on_each_file(app, exercise_id)
    client = app.test_client()
    for username in students.values():
        body = grade(app, client, exercise_id, token_for(client, username), with_answers({}))
        assert body["score"] == 5, dump(body)
    assert reference_runs == []  # validation computed them: no student paid


def test_the_student_never_sees_the_reference_values(course_app, tmp_path, reference_runs):
    """A submission that searches its globals, modules and every file it can reach for the
    reference solution's values finds nothing; nor does the feedback show them."""
    app = course_app
    exercise_id = import_course(app, own_file_course(tmp_path / "own"), validate=True)
    students = students_on_each_file(app, exercise_id)
    client = app.test_client()
    snoop = (
        "import os, sys\n"
        # Built at run time, so the feedback showing this source does not count as a leak.
        "needles = [str(73000 + 103).encode(), str(2666000 + 912).encode(),\n"
        "           b'Histogram1/data/' + b'data', b'entry1/data1/' + b'counts']\n"
        "found = [k for k in list(globals()) if 'reference' in k.lower()]\n"
        "found += [m for m in list(sys.modules) if 'reference' in m.lower()]\n"
        # Installed packages (the virtualenv may live under /tmp) hold these digits by chance.
        "installed = (sys.prefix, sys.base_prefix, sys.exec_prefix)\n"
        "for top in {os.getcwd(), '/tmp', os.path.expanduser('~'), os.environ.get('HOME', '/')}:\n"
        "    for root, dirs, files in os.walk(top):\n"
        "        if root.startswith(installed):\n"
        "            dirs[:] = []\n"
        "            continue\n"
        "        for name in files:\n"
        "            try:\n"
        "                with open(os.path.join(root, name), 'rb') as fh:\n"
        "                    data = fh.read(2_000_000)\n"
        "            except OSError:\n"
        "                continue\n"
        "            found += [os.path.join(root, name) for n in needles if n in data]\n"
        "entry_name = 'SNOOPED:' + repr(sorted(set(found)))\n"
    )
    for name, username in students.items():
        headers = token_for(client, username)
        body = grade(app, client, exercise_id, headers, with_answers({
            "entry-name": snoop,
            "total-counts": "total_counts = -1.0"}))
        checks = {c["grade_id"]: c for c in body["checks"]}
        assert "SNOOPED:[]" in checks["check-entry-name"]["message"], dump(body)
        assert not checks["check-total-counts"]["passed"]
        feedback = client.get(body["feedback_url"], headers=headers).get_data(as_text=True)
        for text in (json.dumps(body), feedback):
            assert str(int(TOTALS[name])) not in text
            assert "reference." not in text  # the hidden check code stays hidden too
    assert reference_runs == []


def test_import_refuses_a_reference_check_in_the_students_kernel_and_an_unknown_choice(
        course_app, tmp_path):
    app = course_app
    data = services_of(app).datasets
    in_kernel = source_notebook()
    for cell in in_kernel.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "check-total-counts":
            cell.metadata["panlearn"] = {"in_kernel": True}
    with pytest.raises(CourseFolderError) as caught:
        load_course_folders(own_file_course(tmp_path / "kernel", in_kernel),
                            registry=data.registry)
    [problem] = caught.value.problems
    assert "check-total-counts" in problem.message and "student's kernel" in problem.message

    unknown = source_notebook()
    unknown.metadata["panlearn"]["datasets"][0]["choices"][1]["file"] = "lrcs9999.nx5"
    with pytest.raises(CourseFolderError) as caught:
        load_course_folders(own_file_course(tmp_path / "unknown", unknown),
                            registry=data.registry)
    [problem] = caught.value.problems
    assert problem.field == "metadata.panlearn.datasets[0].choices[1].file"
    assert "has no file 'lrcs9999.nx5'" in problem.message


def test_import_validation_refuses_a_reference_check_that_reads_a_value_needing_the_kernel(
        course_app, tmp_path):
    """A check that compares the student's open h5py file with the reference would have to
    run in the student's kernel (a file object is not plain data): the import says so."""
    app = course_app
    notebook = source_notebook()
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "check-signal-path":
            cell.source = ("assert f[signal_path].name == reference.signal_path, "
                           "'signal_path is not the signal'")
    with pytest.raises(CourseFolderError) as caught:
        import_course(app, own_file_course(tmp_path / "file-object", notebook), validate=True)
    [problem] = caught.value.problems
    assert "check-signal-path" in problem.message, problem.message
    assert "would have to run in the student's kernel" in problem.message, problem.message

"""Importing course folders: validation, idempotence, versions, the CLI."""

from __future__ import annotations

import nbformat
import pytest
import yaml
from sqlalchemy import select

from panlearn.authoring.folder import CourseFolderError, load_course_folder, load_course_folders
from panlearn.authoring.service import import_courses
from panlearn.extensions import db
from panlearn.models import Course, Exercise, NotebookBlob, VersionStatus
from tests.builders import exercise_notebook, make_org, reading_notebook, write_course
from tests.conftest import REPO_ROOT


def _import(app, folder, publish=False):
    with app.app_context():
        return import_courses(db.session, load_course_folders(folder), publish=publish)


def _versions(app, slug="demo"):
    with app.app_context():
        course = db.session.scalar(select(Course).where(Course.slug == slug))
        return [(v.number, v.status.value, v.title) for v in course.versions]


def test_import_creates_course_modules_lessons_and_exercise(app, tmp_path):
    make_org(app)
    folder = write_course(tmp_path)
    [result] = _import(app, folder)
    assert (result.slug, result.version, result.outcome, result.status) == (
        "demo", 1, "created", "draft")
    with app.app_context():
        course = db.session.scalar(select(Course).where(Course.slug == "demo"))
        version = course.versions[0]
        assert [m.title for m in version.modules] == ["Basics", "More"]
        lessons = [lesson for m in version.modules for lesson in m.lessons]
        assert [lesson.kind.value for lesson in lessons] == ["reading", "exercise", "reading"]
        assert [lesson.title for lesson in lessons] == ["Reading one", "An exercise", "Reading two"]
        exercise = db.session.scalar(select(Exercise))
        assert exercise.points == 2 and exercise.check_ids == ["check-answer"]
        assert db.session.query(NotebookBlob).count() == 3


def test_reimport_of_same_source_changes_nothing(app, tmp_path):
    make_org(app)
    folder = write_course(tmp_path)
    _import(app, folder)
    [again] = _import(app, folder)
    assert again.outcome == "unchanged" and again.version == 1
    assert _versions(app) == [(1, "draft", "Course demo")]


def test_changed_source_becomes_new_version_and_published_one_is_kept(app, tmp_path):
    make_org(app)
    folder = write_course(tmp_path)
    _import(app, folder, publish=True)
    manifest = yaml.safe_load((folder / "course.yml").read_text())
    manifest["title"] = "Renamed"
    (folder / "course.yml").write_text(yaml.safe_dump(manifest))
    [result] = _import(app, folder)
    assert (result.version, result.outcome, result.status) == (2, "new-version", "draft")
    assert _versions(app) == [(1, "published", "Course demo"), (2, "draft", "Renamed")]


def test_identical_notebooks_are_stored_once(app, tmp_path):
    make_org(app)
    same = reading_notebook("Same")
    folder = write_course(tmp_path, notebooks={"01-read.ipynb": same,
                                               "02-exercise.ipynb": exercise_notebook(),
                                               "03-more.ipynb": reading_notebook("Other")})
    _import(app, folder)
    write_course(tmp_path, slug="second", notebooks={"01-read.ipynb": same,
                                                     "02-exercise.ipynb": exercise_notebook(),
                                                     "03-more.ipynb": reading_notebook("Else")})
    _import(app, tmp_path / "second")
    with app.app_context():
        # The shared reading notebook is one blob although two courses use it.
        assert db.session.query(NotebookBlob).count() == 5


def test_publish_flag_publishes_an_unchanged_draft(app, tmp_path):
    make_org(app)
    folder = write_course(tmp_path)
    _import(app, folder)
    [result] = _import(app, folder, publish=True)
    assert (result.outcome, result.status) == ("published", "published")


def _problems(folder):
    with pytest.raises(CourseFolderError) as caught:
        load_course_folders(folder)
    return [str(problem) for problem in caught.value.problems]


def test_every_problem_of_a_bad_folder_is_reported_at_once(tmp_path):
    folder = write_course(tmp_path, licence="NOT-A-LICENCE", level="expert")
    (folder / "03-more.ipynb").unlink()
    (folder / "02-exercise.ipynb").write_text('{"cells": "nope"}')
    problems = _problems(folder)
    joined = "\n".join(problems)
    assert "licence: not an SPDX licence identifier: 'NOT-A-LICENCE'" in joined
    assert "level: Must be one of" in joined
    assert "modules[1].lessons[0].notebook: notebook '03-more.ipynb' not found" in joined
    assert "demo/02-exercise.ipynb" in joined
    assert len(problems) == 4


def test_yaml_syntax_error_names_its_line(tmp_path):
    folder = write_course(tmp_path)
    (folder / "course.yml").write_text("title: ok\nsummary: [unclosed\nlevel: beginner\n")
    [problem] = _problems(folder)
    assert "course.yml:" in problem and "YAML syntax error" in problem
    line = int(problem.split("course.yml:")[1].split(":")[0])
    assert line in (2, 3, 4)


def test_missing_required_fields_are_named(tmp_path):
    folder = write_course(tmp_path)
    (folder / "course.yml").write_text(yaml.safe_dump({"title": "Only a title"}))
    joined = "\n".join(_problems(folder))
    for name in ("summary", "level", "organisation", "licence", "version", "authors", "modules"):
        assert f"{name}: Missing data for required field." in joined


def test_duplicate_course_slugs_in_a_folder_of_courses(tmp_path):
    write_course(tmp_path, slug="one")
    write_course(tmp_path, slug="two")
    manifest = yaml.safe_load((tmp_path / "two" / "course.yml").read_text())
    manifest["slug"] = "one"
    (tmp_path / "two" / "course.yml").write_text(yaml.safe_dump(manifest))
    [problem] = _problems(tmp_path)
    assert "duplicate course slug 'one'" in problem


def test_duplicate_lesson_slugs_and_bad_checks(tmp_path):
    bad = exercise_notebook(points=0)
    folder = write_course(tmp_path, notebooks={"01-read.ipynb": reading_notebook(),
                                               "02-exercise.ipynb": bad,
                                               "03-more.ipynb": reading_notebook()},
                          modules=[{"title": "M", "lessons": [
                              {"notebook": "01-read.ipynb", "slug": "same"},
                              {"notebook": "02-exercise.ipynb"},
                              {"notebook": "03-more.ipynb", "slug": "same"}]}])
    joined = "\n".join(_problems(folder))
    assert "duplicate lesson slug 'same'" in joined
    assert "the checks' points add up to 0" in joined  # nbgrader allows 0 points per check


def test_notebook_path_may_not_leave_the_course_folder(tmp_path):
    (tmp_path / "outside.ipynb").write_text(nbformat.writes(reading_notebook()))
    folder = write_course(tmp_path, modules=[{"title": "M", "lessons": [
        {"notebook": "../outside.ipynb"}]}])
    [problem] = _problems(folder)
    assert "points outside the course folder" in problem


def test_shipped_courses_validate():
    from tests.conftest import REPO_ROOT

    sources = load_course_folders(REPO_ROOT / "courses")
    assert sources and all(source.modules for source in sources)


def test_unknown_organisation_is_a_named_problem(app, tmp_path):
    folder = write_course(tmp_path, org="nowhere")
    with app.app_context(), pytest.raises(CourseFolderError) as caught:
        import_courses(db.session, [load_course_folder(folder)])
    assert "unknown organisation 'nowhere'" in str(caught.value.problems[0])


def test_cli_import_validate_and_errors(app, runner, tmp_path):
    make_org(app)
    folder = write_course(tmp_path)
    result = runner.invoke(args=["courses", "validate", str(folder)])
    assert result.exit_code == 0, result.output
    assert "ok  demo: 2 modules, 3 lessons" in result.output
    result = runner.invoke(args=["courses", "import", str(tmp_path), "--publish"])
    assert result.exit_code == 0, result.output
    assert "created" in result.output
    result = runner.invoke(args=["courses", "import", str(folder)])
    assert "unchanged" in result.output
    (folder / "01-read.ipynb").unlink()
    result = runner.invoke(args=["courses", "validate", str(folder)])
    assert result.exit_code == 1
    assert "notebook '01-read.ipynb' not found" in result.output
    with app.app_context():
        assert db.session.scalar(select(Course)).versions[0].status == VersionStatus.PUBLISHED


def test_cli_setup_imports_and_publishes_the_shipped_courses(app, runner):
    result = runner.invoke(args=["setup"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        courses = list(db.session.scalars(select(Course)))
        assert courses and all(c.versions[-1].status == VersionStatus.PUBLISHED for c in courses)
    # Running it again is harmless.
    assert runner.invoke(args=["setup"]).exit_code == 0


def test_cli_users_create(app, runner):
    make_org(app)
    result = runner.invoke(args=["users", "create", "alice", "--role", "author", "--org", "psi",
                                 "--password", "long enough pw"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["users", "create", "alice", "--password", "long enough pw"])
    assert result.exit_code == 1 and "taken" in result.output
    result = runner.invoke(args=["users", "create", "bob", "--role", "author",
                                 "--password", "long enough pw"])
    assert result.exit_code == 1 and "organisation" in result.output
    result = runner.invoke(args=["users", "create", "carol"], input="pw long enough\n"
                                                                   "pw long enough\n")
    assert result.exit_code == 0, result.output


def test_exercise_dataset_references_are_checked_against_the_registry(tmp_path):
    from panlearn.datasets.registry import Registry

    exercise = exercise_notebook()
    parameters = nbformat.v4.new_code_cell('data_file = "x.h5"')
    parameters.metadata["tags"] = ["parameters"]
    exercise.cells.insert(1, parameters)
    exercise.metadata["panlearn"] = {"datasets": [
        {"parameter": "data_file", "dataset": "no-such-dataset", "file": "x.h5"},
        {"parameter": "not an identifier", "dataset": "psi-sinq-dmc-gasb-2005",
         "file": "dmc01.h5"}]}
    folder = write_course(tmp_path, notebooks={"01-read.ipynb": reading_notebook(),
                                               "02-exercise.ipynb": exercise,
                                               "03-more.ipynb": reading_notebook("Two")})
    registry = Registry.load(REPO_ROOT / "content" / "datasets.yml")
    with pytest.raises(CourseFolderError) as caught:
        load_course_folders(folder, registry=registry)
    joined = "\n".join(str(p) for p in caught.value.problems)
    assert "02-exercise.ipynb: metadata.panlearn.datasets[0].dataset" in joined
    assert "metadata.panlearn.datasets[1].parameter" in joined
    # Without a registry only the notebook's own form is checked.
    assert load_course_folders(folder)


def test_publishing_a_new_version_archives_the_old_one_which_stays_readable(app, tmp_path):
    make_org(app)
    folder = write_course(tmp_path)
    _import(app, folder, publish=True)
    manifest = yaml.safe_load((folder / "course.yml").read_text())
    manifest["title"] = "Second edition"
    (folder / "course.yml").write_text(yaml.safe_dump(manifest))
    _import(app, folder, publish=True)
    assert _versions(app) == [(1, "archived", "Course demo"), (2, "published", "Second edition")]
    client = app.test_client()
    assert client.get("/api/courses/demo").get_json()["title"] == "Second edition"
    # Learners enrolled in version 1 can still read it.
    assert client.get("/api/courses/demo?version=1").get_json()["status"] == "archived"


def test_git_import_records_the_commit_and_ignores_uncommitted_changes(app, runner, tmp_path):
    import subprocess

    make_org(app)
    repo = tmp_path / "repo"
    write_course(repo)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "first"], check=True)
    commit = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True,
                            text=True).stdout.strip()
    (repo / "demo" / "course.yml").write_text("not: [valid")  # uncommitted, must not matter
    result = runner.invoke(args=["courses", "import", "--git", str(repo), "--ref", "HEAD",
                                 "--publish"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        version = db.session.scalar(select(Course)).versions[0]
        assert version.source_ref == commit and version.source_uri.startswith("git:")
    result = runner.invoke(args=["courses", "import", "--git", str(repo), "--ref", "nope"])
    assert result.exit_code == 1 and "nope" in result.output


def test_import_goes_on_unvalidated_when_the_data_cannot_be_fetched(app, tmp_path, caplog):
    from panlearn.datasets.errors import DownloadUnavailableError

    make_org(app)
    folder = write_course(tmp_path)

    def offline(notebook, datasets):
        raise DownloadUnavailableError("https://example.org/data.h5 could not be reached")

    with app.app_context():
        [result] = import_courses(db.session, load_course_folders(folder),
                                  validate_exercise=offline)
        assert result.outcome == "created"
        assert db.session.scalar(select(Exercise)).validated_at is None
    assert "reference solution not graded" in caplog.text


def test_a_failing_after_commit_hook_cannot_undo_or_fail_an_import(app, tmp_path, caplog):
    from panlearn.errors import InvalidInputError

    make_org(app)

    def broken_index(slug):
        raise InvalidInputError(f"cannot index {slug}")

    with app.app_context():
        [result] = import_courses(db.session, load_course_folders(write_course(tmp_path)),
                                  publish=True, after_commit=[broken_index])
    assert (result.outcome, result.status) == ("created", "published")
    assert _versions(app) == [(1, "published", "Course demo")]
    assert "after-commit hook" in caplog.text and "cannot index demo" in caplog.text


def test_an_import_that_fails_while_writing_leaves_nothing(app, tmp_path, monkeypatch):
    from panlearn.authoring import service

    make_org(app)
    write_course(tmp_path / "src", "first")
    write_course(tmp_path / "src", "second")
    real = service._new_version

    def fail_on_second(session, course, source, *, number):
        if source.slug == "second":
            raise RuntimeError("disk full")
        return real(session, course, source, number=number)

    monkeypatch.setattr(service, "_new_version", fail_on_second)
    with app.app_context(), pytest.raises(RuntimeError):
        import_courses(db.session, load_course_folders(tmp_path / "src"))
    with app.app_context():
        assert db.session.scalar(select(Course)) is None
        assert db.session.query(NotebookBlob).count() == 0

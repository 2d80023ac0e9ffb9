"""`courses validate` (CLI and API) reports everything an import would refuse, all at once.

Each broken course below is refused by `courses import` and by
`POST /api/courses/import`; `courses validate` and `POST /api/courses/validate`
report the same problem beforehand. Issue 17 found validate saying "ok" for
the first three.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from sqlalchemy import select

from panlearn.extensions import db
from panlearn.models import Course
from tests.builders import (
    exercise_notebook,
    make_org,
    make_user,
    token_for,
    write_course,
    zip_folder,
)


def _set_manifest(folder: Path, **changes) -> None:
    manifest = yaml.safe_load((folder / "course.yml").read_text())
    manifest.update(changes)
    (folder / "course.yml").write_text(yaml.safe_dump(manifest))


def unknown_organisation(folder: Path) -> None:
    _set_manifest(folder, organisation="psii")


def exercise_without_parameters_cell(folder: Path) -> None:
    exercise = exercise_notebook()
    exercise.metadata["panlearn"] = {"datasets": [
        {"parameter": "data_file", "dataset": "psi-sinq-dmc-gasb-2005", "file": "dmc01.h5"}]}
    nbformat.write(exercise, folder / "02-exercise.ipynb")


def reading_saved_without_outputs(folder: Path) -> None:
    nbformat.write(new_notebook(cells=[new_markdown_cell("# Plots"),
                                       new_code_cell("import math\nmath.pi")]),
                   folder / "03-more.ipynb")


def unknown_dataset(folder: Path) -> None:
    exercise = exercise_notebook()
    parameters = new_code_cell('data_file = "x.h5"')
    parameters.metadata["tags"] = ["parameters"]
    exercise.cells.insert(1, parameters)
    exercise.metadata["panlearn"] = {"datasets": [
        {"parameter": "data_file", "dataset": "no-such-dataset", "file": "x.h5"}]}
    nbformat.write(exercise, folder / "02-exercise.ipynb")


def stray_solution_marker(folder: Path) -> None:
    nbformat.write(new_notebook(cells=[new_markdown_cell("# Read"),
                                       new_code_cell("x = 1\n### END SOLUTION",
                                                     execution_count=1)]),
                   folder / "01-read.ipynb")


# (how to break the course, what the problem says, its file)
CASES: list[tuple[Callable[[Path], None], str, str]] = [
    (unknown_organisation, "unknown organisation 'psii'; did you mean 'psi'", "demo/course.yml"),
    (exercise_without_parameters_cell, "no cell is tagged 'parameters'",
     "demo/02-exercise.ipynb"),
    (reading_saved_without_outputs, "not saved executed", "demo/03-more.ipynb"),
    (unknown_dataset, "unknown dataset 'no-such-dataset'", "demo/02-exercise.ipynb"),
    (stray_solution_marker, "END SOLUTION` without a matching", "demo/01-read.ipynb"),
]


@pytest.fixture
def author(app, client):
    make_org(app, "psi", "Paul Scherrer Institute")
    make_user(app, "author", "author", "psi")
    return token_for(client, "author")


def _archive(folder: Path) -> dict:
    return {"archive": (io.BytesIO(zip_folder(folder, "demo/")), "demo.zip")}


def _no_course(app) -> bool:
    with app.app_context():
        return db.session.scalar(select(Course)) is None


@pytest.mark.parametrize(("breaks", "says", "file"), CASES,
                         ids=[case[0].__name__ for case in CASES])
def test_validate_reports_what_import_refuses(app, client, runner, author, tmp_path, breaks,
                                              says, file):
    folder = write_course(tmp_path)
    breaks(folder)

    validated = runner.invoke(args=["courses", "validate", str(folder)])
    assert validated.exit_code == 1 and says in validated.output, validated.output
    imported = runner.invoke(args=["courses", "import", str(folder)])
    assert imported.exit_code == 1 and says in imported.output, imported.output

    report = client.post("/api/courses/validate", headers=author,
                         content_type="multipart/form-data", data=_archive(folder))
    assert report.status_code == 200, report.get_json()
    assert report.get_json()["valid"] is False
    assert any(says in p["message"] and p["file"] == file
               for p in report.get_json()["problems"]), report.get_json()
    refused = client.post("/api/courses/import", headers=author,
                          content_type="multipart/form-data", data=_archive(folder))
    assert refused.status_code == 400
    assert any(says in p["message"] and p["file"] == file
               for p in refused.get_json()["errors"]["problems"])
    assert _no_course(app)


def test_every_problem_comes_at_once(runner, author, tmp_path):
    folder = write_course(tmp_path)
    # One problem in each file (the parameters case would share 02-exercise with another).
    chosen = [case for case in CASES if case[0] is not exercise_without_parameters_cell]
    for breaks, _, _ in chosen:
        breaks(folder)
    result = runner.invoke(args=["courses", "validate", str(folder)])
    assert result.exit_code == 1
    assert f"{len(chosen)} problem(s)" in result.output, result.output
    for _, says, file in chosen:
        assert says in result.output and file in result.output


def test_the_organisation_matches_whatever_its_case(app, client, runner, author, tmp_path):
    folder = write_course(tmp_path)
    _set_manifest(folder, organisation="PSI")
    validated = runner.invoke(args=["courses", "validate", str(folder)])
    assert validated.exit_code == 0 and "ok  demo" in validated.output, validated.output
    report = client.post("/api/courses/validate", headers=author,
                         content_type="multipart/form-data", data=_archive(folder))
    assert report.get_json()["valid"] is True, report.get_json()
    imported = client.post("/api/courses/import", headers=author,
                           content_type="multipart/form-data", data=_archive(folder))
    assert imported.status_code == 201, imported.get_json()
    assert client.get("/api/courses/demo", headers=author).get_json()["organisation"] == "psi"


def test_problems_name_the_cell(runner, author, tmp_path):
    folder = write_course(tmp_path)
    stray_solution_marker(folder)
    result = runner.invoke(args=["courses", "validate", str(folder)])
    assert "demo/01-read.ipynb: cell #2:" in result.output, result.output


def test_another_organisations_course_is_refused_by_validate_as_by_import(app, client,
                                                                          author, tmp_path):
    make_org(app, "ess")
    folder = write_course(tmp_path, org="ess")
    for path in ("/api/courses/validate", "/api/courses/import"):
        response = client.post(path, headers=author, content_type="multipart/form-data",
                               data=_archive(folder))
        assert response.status_code == 403, path


@pytest.mark.slow
@pytest.mark.requires_bubblewrap
@pytest.mark.parametrize(("solution", "check", "says"), [
    ("answer = -1", "assert answer > 0", "does not score full marks"),
    ("answer = 42", "assert 42 == 42", "blank student version scores 2/2"),
], ids=["wrong-solution", "check-passes-without-answer"])
def test_grading_problems_are_reported_by_validate_as_by_import(app, client, runner, author,
                                                                tmp_path, solution, check, says):
    app.config["PANLEARN"]["GRADING_VALIDATE"] = True
    exercise = exercise_notebook()
    exercise.cells[1].source = f"### BEGIN SOLUTION\n{solution}\n### END SOLUTION"
    exercise.cells[2].source = check
    folder = write_course(tmp_path)
    nbformat.write(exercise, folder / "02-exercise.ipynb")

    validated = runner.invoke(args=["courses", "validate", str(folder)])
    assert validated.exit_code == 1 and says in validated.output, validated.output
    assert "demo/02-exercise.ipynb: cell #3:" in validated.output
    report = client.post("/api/courses/validate", headers=author,
                         content_type="multipart/form-data", data=_archive(folder)).get_json()
    assert report["valid"] is False and says in report["problems"][0]["message"], report
    assert report["exercises"][0]["state"] == "failed"
    refused = client.post("/api/courses/import", headers=author,
                          content_type="multipart/form-data", data=_archive(folder))
    assert refused.status_code == 400 and says in refused.get_data(as_text=True)
    assert _no_course(app)


def test_validate_names_what_each_check_takes_from_the_student(runner, author, tmp_path):
    folder = write_course(tmp_path)
    exercise = exercise_notebook()
    data = new_code_cell("counts = [1, 5, 2]")
    exercise.cells.insert(1, data)
    exercise.cells[2].source = "### BEGIN SOLUTION\nanswer = max(counts)\n### END SOLUTION"
    exercise.cells[3].source = "assert answer == max(counts)"
    nbformat.write(exercise, folder / "02-exercise.ipynb")
    result = runner.invoke(args=["courses", "validate", "--names", str(folder)])
    assert "demo/02-exercise.ipynb" in result.output, result.output
    assert "check-answer (isolated): answers: answer; context: counts" in result.output


def test_validate_on_a_database_without_tables_says_what_to_run(app, runner, tmp_path):
    folder = write_course(tmp_path)
    with app.app_context():
        db.drop_all()
    result = runner.invoke(args=["courses", "validate", str(folder)])
    assert result.exit_code == 1
    assert "The database has no tables yet" in result.output, result.output
    assert "Traceback" not in result.output

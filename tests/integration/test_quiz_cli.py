"""`flask courses export-quiz` and `flask courses import-quiz`, end to end."""

from __future__ import annotations

import nbformat

from panlearn.quizzes.blocks import read_questions
from panlearn.quizzes.moodle import import_moodle_xml
from tests.api.test_quizzes import import_quiz_course
from tests.builders import make_org
from tests.conftest import REPO_ROOT

DOCS_BANK = REPO_ROOT / "tests" / "fixtures" / "moodle" / "docs_examples.xml"


def test_export_quiz_writes_the_courses_questions_as_moodle_xml(app, runner, tmp_path):
    make_org(app, "psi")
    import_quiz_course(app, tmp_path / "src")
    target = tmp_path / "bank.xml"
    result = runner.invoke(args=["courses", "export-quiz", "quizzed", "--format", "moodle-xml",
                                 "--output", str(target)])
    assert result.exit_code == 0, result.output
    assert "4 question(s) written" in result.output
    bank = import_moodle_xml(target.read_bytes())
    assert [q.id for q in bank.questions] == ["embargo", "wavelength-fields", "d-spacing",
                                             "entry-class"]
    assert bank.categories == ["Course quizzed/Quizzed"]
    to_stdout = runner.invoke(args=["courses", "export-quiz", "quizzed"])
    assert to_stdout.exit_code == 0 and "<quiz>" in to_stdout.stdout
    missing = runner.invoke(args=["courses", "export-quiz", "nope"])
    assert missing.exit_code == 1 and "No course 'nope'" in missing.output


def test_import_quiz_turns_a_bank_into_quiz_cells_that_validate(runner, tmp_path):
    target = tmp_path / "imported.ipynb"
    result = runner.invoke(args=["courses", "import-quiz", str(DOCS_BANK), "--into", str(target)])
    assert result.exit_code == 0, result.output
    assert "6 question(s) added" in result.output and "essay" in result.output
    notebook = nbformat.read(str(target), as_version=4)
    assert notebook.cells[0].source == "# Moodle XML format examples"
    found, problems = read_questions(notebook)
    assert problems == {} and len(found) == 6
    again = runner.invoke(args=["courses", "import-quiz", str(DOCS_BANK), "--into", str(target)])
    assert again.exit_code == 0
    found, problems = read_questions(nbformat.read(str(target), as_version=4))
    assert problems == {} and len(found) == 12
    assert "square-roots-2" in {item.question.id for item in found}
    broken = tmp_path / "broken.xml"
    broken.write_text("<quiz><question")
    failed = runner.invoke(args=["courses", "import-quiz", str(broken), "--into", str(target)])
    assert failed.exit_code == 1 and "Not a Moodle XML file" in failed.output

"""Builders of test data, in one place: accounts, notebooks, nbgrader cells, course folders.

Notebooks are built in memory with nbformat; `code` is the one maker of
nbgrader cells (answers, checks, read-only cells), writing the metadata as
nbgrader's schema 3 does. The account builders need the app; they import it
when called, so unit tests that only build notebooks load no app.
"""

from __future__ import annotations

import copy
import io
import re
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat
import yaml
from nbformat import NotebookNode, v4

if TYPE_CHECKING:
    from flask import Flask
    from flask.testing import FlaskClient

PASSWORD = "correct horse battery"
# A 1x1 transparent PNG.
PNG_1PX = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)


# -- accounts ------------------------------------------------------------------------------


def make_org(app: Flask, slug: str = "psi", name: str | None = None) -> None:
    """Create an organisation."""
    from panlearn.extensions import db
    from panlearn.models import Organisation

    with app.app_context():
        db.session.add(Organisation(slug=slug, name=name or slug.upper()))
        db.session.commit()


def make_user(app: Flask, username: str, role: str = "student", org: str | None = None) -> None:
    """Create an account with the shared test password."""
    from panlearn.accounts.service import create_user
    from panlearn.extensions import db

    with app.app_context():
        create_user(db.session, username, PASSWORD, role=role, organisation_slug=org)


def token_for(client: FlaskClient, username: str) -> dict[str, str]:
    """Log in through the API and return the Authorization header."""
    response = client.post("/api/auth/token", json={"username": username, "password": PASSWORD})
    assert response.status_code == 201, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


# -- cells and notebooks -------------------------------------------------------------------


def nbgrader(**fields: Any) -> dict[str, Any]:
    """Cell metadata with an nbgrader block (schema 3 defaults, `fields` over them)."""
    meta = {"schema_version": 3, "grade": False, "solution": False, "locked": False}
    meta.update(fields)
    return {"nbgrader": meta}


def code(
    source: str,
    *,
    grade_id: str | None = None,
    solution: bool = False,
    points: float | None = None,
    tags: list[str] | None = None,
    cell_id: str | None = None,
    **fields: Any,
) -> NotebookNode:
    """A code cell; with `grade_id`, an nbgrader cell as nbgrader writes it.

    An answer cell with `solution`, a check with `points`, both or neither
    (a read-only cell). `fields` go to the cell (`outputs`, `execution_count`).
    """
    cell = v4.new_code_cell(source, **fields)
    if cell_id:
        cell.id = cell_id
    if grade_id:
        cell.metadata.update(nbgrader(
            grade=points is not None,
            solution=solution,
            grade_id=grade_id,
            locked=not solution,
            **({"points": points} if points is not None else {}),
        ))
    if tags:
        cell.metadata["tags"] = tags
    return cell


def notebook(*cells: NotebookNode, **metadata: Any) -> NotebookNode:
    """A notebook of `cells`, with `metadata`."""
    nb = v4.new_notebook(metadata=metadata)
    nb.cells = list(cells)
    return nb


def stream(text: str, name: str = "stdout") -> NotebookNode:
    """A printed output."""
    return v4.new_output("stream", name=name, text=text)


def display(data: dict[str, Any], **kw: Any) -> NotebookNode:
    """A display output (`data` by MIME type)."""
    return v4.new_output("display_data", data=data, **kw)


def reading_notebook(title: str = "A reading", text: str = "Bragg's law.") -> NotebookNode:
    """A small reading notebook, saved executed (as import requires)."""
    return v4.new_notebook(cells=[v4.new_markdown_cell(f"# {title}\n\n{text}"),
                                  v4.new_code_cell("x = 1 + 1", execution_count=1)])


def exercise_notebook(points: float = 2) -> NotebookNode:
    """A small nbgrader-style exercise with a solution and a hidden test."""
    solution = code("### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION",
                    grade_id="answer-code", solution=True)
    check = code("assert answer > 0\n### BEGIN HIDDEN TESTS\nassert answer == 42\n"
                 "### END HIDDEN TESTS", grade_id="check-answer", points=points)
    return v4.new_notebook(cells=[v4.new_markdown_cell("# An exercise"), solution, check])


# -- the DMC powder-diffraction exercise (grading tests) -----------------------------------


def dmc_source(data_file: str = "dmc01.h5") -> NotebookNode:
    """Author's notebook: strongest peak 2θ, its d-spacing (42.7°, 3.525 Å), a function check."""
    nb = v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["panlearn"] = {
        "datasets": [{"pid": "dmc01", "file": "dmc01.h5", "parameter": "data_file"}]
    }
    nb.cells = [
        v4.new_markdown_cell("# Powder diffraction at DMC\nFind the strongest Bragg peak."),
        code(f"data_file = {data_file!r}", tags=["parameters"], cell_id="params"),
        code("import numpy as np\nimport h5py", cell_id="imports"),
        code(
            "### BEGIN SOLUTION\n"
            "with h5py.File(data_file, 'r') as f:\n"
            "    two_theta = f['/entry1/data1/two_theta'][()]\n"
            "    counts = f['/entry1/data1/counts'][()]\n"
            "    wavelength = float(f['/entry1/data1/lambda'][0])\n"
            "two_theta_max = float(two_theta[np.argmax(counts)])\n"
            "### END SOLUTION",
            grade_id="peak",
            solution=True,
            cell_id="peak",
        ),
        code(
            "assert isinstance(two_theta_max, float), 'two_theta_max: a float, in degrees'\n"
            "### BEGIN HIDDEN TESTS\n"
            "assert abs(two_theta_max - 42.7) < 0.2, 'this is not the strongest peak'\n"
            "### END HIDDEN TESTS",
            grade_id="check_peak",
            points=2,
            cell_id="check_peak",
        ),
        code(
            "### BEGIN SOLUTION\n"
            "d_spacing = wavelength / (2 * np.sin(np.radians(two_theta_max / 2)))\n"
            "### END SOLUTION",
            grade_id="dspacing",
            solution=True,
            cell_id="dspacing",
        ),
        code(
            "assert d_spacing > 0, 'd must be positive'\n"
            "### BEGIN HIDDEN TESTS\n"
            "assert np.isclose(d_spacing, 3.525, atol=0.01), 'd is off: is it in ångström (Å)?'\n"
            "### END HIDDEN TESTS",
            grade_id="check_d",
            points=3,
            cell_id="check_d",
        ),
        code(
            "def bragg_d(wavelength, two_theta_deg):\n"
            "    ### BEGIN SOLUTION\n"
            "    return wavelength / (2 * np.sin(np.radians(two_theta_deg) / 2))\n"
            "    ### END SOLUTION",
            grade_id="bragg",
            solution=True,
            cell_id="bragg",
        ),
        code(
            "assert np.isclose(bragg_d(2.0, 60.0), 2.0), 'bragg_d(2.0, 60.0) should be 2.0 Å'",
            grade_id="check_bragg",
            points=1,
            cell_id="check_bragg",
        ),
    ]
    nbformat.validate(nb)
    return nb


def answered(student: NotebookNode, answers: dict[str, str]) -> NotebookNode:
    """A student's submission: replace answer cells (by grade_id) with their code."""
    nb = copy.deepcopy(student)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
    return nb


def solved(source: NotebookNode) -> dict[str, str]:
    """The reference answers, as a student would type them."""
    out = {}
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            out[meta["grade_id"]] = re.sub(
                r"^[ \t]*### (BEGIN|END) SOLUTION\n?", "", cell.source, flags=re.M
            )
    return out


def answer_source() -> NotebookNode:
    """A one-answer exercise (answer = 42) used by the abuse tests."""
    nb = v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        code("data_file = 'dmc01.h5'", tags=["parameters"], cell_id="params"),
        code("import numpy as np", cell_id="imports"),
        code(
            "### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION",
            grade_id="answer",
            solution=True,
            cell_id="answer",
        ),
        code(
            "assert isinstance(answer, int), 'answer should be an integer'\n"
            "### BEGIN HIDDEN TESTS\n"
            "assert np.isclose(answer, 42.0), 'answer is not the expected value'\n"
            "### END HIDDEN TESTS",
            grade_id="check_answer",
            points=1,
            cell_id="check_answer",
        ),
    ]
    nbformat.validate(nb)
    return nb


# -- quizzes -------------------------------------------------------------------------------


#: One question of each type, answer keys and all (see `quiz_notebook`).
QUIZ_BLOCKS = {
    "embargo": """id: embargo
type: choice
question: How long may data stay under **embargo** by default?
options:
  - text: Never
    feedback: Most policies allow an embargo.
  - text: Three years
    correct: true
    feedback: SECRET-OPTION-FEEDBACK
  - text: Forever
explanation: SECRET-EXPLANATION the embargo lets the team publish first.
""",
    "wavelength-fields": """id: wavelength-fields
type: multi
partial: true
points: 2
question: Which fields of `dmc01.h5` hold the wavelength?
options:
  - text: /entry1/data1/lambda
    correct: true
  - text: /entry1/DMC/Monochromator/lambda
    correct: true
  - text: /entry1/sample/sample_temperature
    feedback: That is a temperature.
""",
    "d-spacing": """id: d-spacing
type: numeric
question: What is the d-spacing for $2\\theta = 42.7°$ at $\\lambda = 2.5666$ Å?
answer: 3.5254
tolerance: 0.005
units: Å
feedback_incorrect: Use $d = \\lambda / (2 \\sin\\theta)$ with θ half of 2θ.
""",
    "entry-class": """id: entry-class
type: text
question: Which NX_class does the top group of a NeXus file have?
answers: [NXentry]
ignore_case: true
attempts: 2
""",
}


def quiz_notebook(blocks: dict[str, str] | None = None, title: str = "Quizzed") -> Any:
    """A reading notebook with one ```quiz block per markdown cell."""
    blocks = QUIZ_BLOCKS if blocks is None else blocks
    cells = [v4.new_markdown_cell(f"# {title}\n\nThe seed talk says FAIR.")]
    cells += [v4.new_markdown_cell(f"Question text before.\n\n```quiz\n{body}```\n\nAfter.")
              for body in blocks.values()]
    return v4.new_notebook(cells=cells)



# -- course folders ------------------------------------------------------------------------


def manifest(slug: str = "demo", org: str = "psi", **overrides: Any) -> dict[str, Any]:
    """A valid course.yml as a dict."""
    data: dict[str, Any] = {
        "slug": slug,
        "title": f"Course {slug}",
        "summary": "Powder diffraction for beginners.",
        "level": "beginner",
        "techniques": ["powder diffraction"],
        "organisation": org,
        "licence": "CC-BY-4.0",
        "version": "1.0",
        "authors": [{"name": "Ada Lovelace", "orcid": "0000-0002-1825-0097"}],
        "modules": [
            {"title": "Basics", "lessons": [{"notebook": "01-read.ipynb"},
                                            {"notebook": "02-exercise.ipynb"}]},
            {"title": "More", "lessons": [{"notebook": "03-more.ipynb"}]},
        ],
    }
    data.update(overrides)
    return data


def write_course(root: Path, slug: str = "demo", org: str = "psi",
                 notebooks: dict[str, Any] | None = None, **overrides: Any) -> Path:
    """Write a course folder under `root` and return it."""
    folder = root / slug
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "course.yml").write_text(yaml.safe_dump(manifest(slug, org, **overrides)))
    notebooks = notebooks if notebooks is not None else {
        "01-read.ipynb": reading_notebook("Reading one"),
        "02-exercise.ipynb": exercise_notebook(),
        "03-more.ipynb": reading_notebook("Reading two", "Scattering vectors."),
    }
    for name, notebook in notebooks.items():
        nbformat.write(notebook, folder / name)
    return folder


def zip_folder(folder: Path, prefix: str = "") -> bytes:
    """A zip archive of a folder, members under `prefix`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, prefix + str(path.relative_to(folder)))
    return buffer.getvalue()

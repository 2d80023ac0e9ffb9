"""Builders of test data: organisations, users with tokens, course folders in tmp dirs."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import nbformat
import yaml
from flask import Flask
from flask.testing import FlaskClient
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from panlearn.accounts.service import create_user
from panlearn.extensions import db
from panlearn.models import Organisation

PASSWORD = "correct horse battery"


def make_org(app: Flask, slug: str = "psi", name: str | None = None) -> None:
    """Create an organisation."""
    with app.app_context():
        db.session.add(Organisation(slug=slug, name=name or slug.upper()))
        db.session.commit()


def make_user(app: Flask, username: str, role: str = "student", org: str | None = None) -> None:
    """Create an account with the shared test password."""
    with app.app_context():
        create_user(db.session, username, PASSWORD, role=role, organisation_slug=org)


def token_for(client: FlaskClient, username: str) -> dict[str, str]:
    """Log in through the API and return the Authorization header."""
    response = client.post("/api/auth/token", json={"username": username, "password": PASSWORD})
    assert response.status_code == 201, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


def reading_notebook(title: str = "A reading", text: str = "Bragg's law.") -> Any:
    """A small reading notebook, saved executed (as import requires)."""
    return new_notebook(cells=[new_markdown_cell(f"# {title}\n\n{text}"),
                               new_code_cell("x = 1 + 1", execution_count=1)])


def exercise_notebook(points: float = 2) -> Any:
    """A small nbgrader-style exercise with a solution and a hidden test."""
    solution = new_code_cell("### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION")
    solution.metadata["nbgrader"] = {"solution": True, "grade": False, "grade_id": "answer-code"}
    check = new_code_cell("assert answer > 0\n### BEGIN HIDDEN TESTS\nassert answer == 42\n"
                          "### END HIDDEN TESTS")
    check.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": "check-answer",
                                  "points": points}
    return new_notebook(cells=[new_markdown_cell("# An exercise"), solution, check])


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
    cells = [new_markdown_cell(f"# {title}\n\nThe seed talk says FAIR.")]
    cells += [new_markdown_cell(f"Question text before.\n\n```quiz\n{body}```\n\nAfter.")
              for body in blocks.values()]
    return new_notebook(cells=cells)


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

"""Courses for the page tests: the shipped NeXus course and a course of our own."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from panlearn.authoring.folder import load_course_folders
from panlearn.authoring.service import import_courses
from panlearn.extensions import db
from panlearn.models import Course, Lesson
from tests.builders import PASSWORD, make_org
from tests.conftest import REPO_ROOT

NEXUS = REPO_ROOT / "courses" / "reading-nexus"

_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|'
                   r'name="csrf_token" value="([^"]+)"')


def import_folder(app: Flask, path: Path, *, publish: bool = True) -> None:
    """Import a course folder, or every course folder under `path` (no reference grading)."""
    with app.app_context():
        import_courses(db.session, load_course_folders(path), publish=publish)


def lesson_ids(app: Flask, slug: str) -> list[int]:
    """The lesson ids of a course's newest version, in reading order."""
    with app.app_context():
        course = db.session.query(Course).filter_by(slug=slug).one()
        version = course.versions[-1]
        return [lesson.id for module in version.modules for lesson in module.lessons]


def lesson_cells(app: Flask, lesson_id: int) -> list[str]:
    """The cell ids of a lesson's notebook."""
    import nbformat

    with app.app_context():
        lesson = db.session.get(Lesson, lesson_id)
        notebook = nbformat.reads(lesson.notebook.content.decode(), as_version=4)
        return [cell.id for cell in notebook.cells]


def csrf_token(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = _CSRF.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1) or match.group(2)


def sign_in(client: FlaskClient, username: str) -> None:
    """Sign a browser session in through the login form."""
    token = csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": username, "password": PASSWORD,
                                           "csrf_token": token})
    assert response.status_code == 303, response.get_data(as_text=True)


def ensure_psi(app: Flask) -> None:
    """The organisation the shipped course belongs to, created once."""
    from panlearn.models import Organisation

    with app.app_context():
        exists = db.session.query(Organisation).filter_by(slug="psi").first() is not None
    if not exists:
        make_org(app, "psi", "Paul Scherrer Institute")


@pytest.fixture
def nexus(app: Flask, tmp_path: Path) -> list[int]:
    """The shipped course `reading-nexus`, published under psi; returns its lesson ids."""
    ensure_psi(app)
    import_folder(app, NEXUS)
    return lesson_ids(app, "reading-nexus")


def png_bytes(width: int = 64, height: int = 48) -> bytes:
    """A small real PNG (a colour gradient), made without any imaging library."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\x00" + b"".join(bytes((x * 4 % 256, y * 5 % 256, 160)) for x in range(width))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def figure_notebook() -> Any:
    """A lesson in three slides: maths, a code cell with a PNG figure, a closing note."""
    import base64

    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

    figure = new_code_cell("plt.plot(q, intensity)", execution_count=1, outputs=[new_output(
        "display_data", data={"image/png": base64.b64encode(png_bytes()).decode(),
                              "text/plain": "<Figure size 640x480>"})])
    figure.id = "figure-cell"
    cells = [
        new_markdown_cell("# Scattering figures\n\nBragg's law: $\\lambda = 2 d \\sin\\theta$.\n\n"
                          "$$q = \\frac{4\\pi}{\\lambda}\\sin\\theta$$"),
        figure,
        new_markdown_cell("## Summary\n\nThe figure shows the intensity."),
    ]
    for cell in cells:
        cell.metadata["slideshow"] = {"slide_type": "slide"}
    return new_notebook(cells=cells)


@pytest.fixture
def figures(app: Flask, tmp_path: Path) -> list[int]:
    """A published one-lesson course `figures` (psi) whose lesson has maths and a PNG."""
    from tests.builders import write_course

    ensure_psi(app)
    write_course(tmp_path / "figures-src", "figures",
                 notebooks={"01-figure.ipynb": figure_notebook()},
                 modules=[{"title": "Figures", "lessons": [{"notebook": "01-figure.ipynb"}]}])
    import_folder(app, tmp_path / "figures-src")
    return lesson_ids(app, "figures")


@pytest.fixture
def demo(app: Flask, tmp_path: Path) -> list[int]:
    """The builders' published `demo` course (psi): reading, exercise (2 points), reading."""
    from tests.builders import write_course

    ensure_psi(app)
    write_course(tmp_path / "demo-src", "demo")
    import_folder(app, tmp_path / "demo-src")
    return lesson_ids(app, "demo")


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless Chromium that can only reach 127.0.0.1, logging console and network."""
    from tests.web.browser import chromium

    with chromium() as driver:
        yield driver

"""A site where cells really run: the shipped NeXus course, students, grading workers.

Shared by the live run tests (API, abuse, browser) and `bench/live.py`: the
app on a fresh database, `reading-nexus` imported and published, and real
`LocalDispatcher` worker processes with warm sandboxed kernels, under short
limits so the tests stay quick.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from flask import Flask
from flask.testing import FlaskClient

from panlearn import create_app
from panlearn.authoring.folder import load_course_folders
from panlearn.authoring.service import import_courses
from panlearn.extensions import db
from panlearn.grading.runtime import LocalDispatcher
from panlearn.notebooks.student import make_student_version
from panlearn.wiring import replace_services, services_of
from tests.builders import make_org, make_user, token_for
from tests.conftest import REPO_ROOT, _shared_data_dir, app_on_fresh_database

NEXUS = REPO_ROOT / "courses" / "reading-nexus"
#: The exercise of the shipped course the live tests work on, and its answer cells.
EXERCISE = "03-exercise-peak-to-d-spacing"
PEAK_CELL, D_CELL = "peak-angle-solution", "d-spacing-solution"
PEAK_CHECK = "peak-angle"
RIGHT_PEAK = "peak_two_theta = float(two_theta[np.argmax(counts)])"
RIGHT_D = "d_spacing = wavelength / (2 * np.sin(np.radians(peak_two_theta / 2)))"
STUDENTS = ("alice", "bob", "carol", "dave")


@dataclass
class LiveSite:
    """The app, its workers, and what the tests address."""

    app: Flask
    dispatcher: LocalDispatcher
    exercise_id: int
    lesson_id: int
    tokens: dict[str, dict[str, str]] = field(default_factory=dict)
    #: Where a browser test serves it (`tests.web.browser.Server`), when it does.
    url: str = ""

    @property
    def runs_url(self) -> str:
        """The exercise's runs endpoint."""
        return f"/api/exercises/{self.exercise_id}/runs"

    @property
    def draft_url(self) -> str:
        """The exercise's draft endpoint."""
        return f"/api/exercises/{self.exercise_id}/draft"

    def client(self) -> FlaskClient:
        """A fresh test client."""
        return self.app.test_client()


def student_notebook() -> Any:
    """The exercise's student version, as the page has it (nbformat JSON)."""
    source = nbformat.read(NEXUS / f"{EXERCISE}.ipynb", as_version=4)
    return json.loads(nbformat.writes(make_student_version(source)))


def with_cells(**sources: str) -> Any:
    """The student version with some cells' sources replaced (by cell id)."""
    notebook = student_notebook()
    for cell in notebook["cells"]:
        if cell["id"] in sources:
            cell["source"] = sources[cell["id"]]
    return notebook


def run(client: FlaskClient, site: LiveSite, cell: str, headers: dict[str, str],
        notebook: Any | None = None, **extra: Any) -> Any:
    """POST a run of ``cell`` through the API."""
    body = {"notebook": notebook if notebook is not None else student_notebook(),
            "cell": cell, **extra}
    return client.post(site.runs_url, json=body, headers=headers)


@contextmanager
def live_site(tmp_path: Path, *, workers: int = 1, kernels: int = 2,
              **settings: Any) -> Iterator[LiveSite]:
    """The site with ``workers`` grading processes started; stopped on exit."""
    if not (_shared_data_dir() / "nexus" / "dmc01.h5").is_file():
        raise RuntimeError(f"shared data not found at {_shared_data_dir()}; set "
                           "PANLEARN_SHARED_DATA (the data files must not be downloaded)")
    overrides = {"GRADING_TIMEOUT_S": 20.0, "GRADING_CELL_TIMEOUT_S": 5.0,
                 "GRADING_LEASE_S": 5.0, "LIVE_TIMEOUT_S": 3.0,
                 "GRADING_PRELOAD": "numpy,h5py", "SUBMISSIONS_PER_HOUR": 100,
                 "LIVE_RUN_RATE": "1000 per minute", **settings}
    with app_on_fresh_database(tmp_path, **overrides) as app:
        make_org(app, "psi")
        for name in STUDENTS:
            make_user(app, name)
        make_user(app, "teacher", "author", "psi")
        with app.app_context():
            import_courses(db.session, load_course_folders(NEXUS), publish=True)
            db.session.remove()
        client = app.test_client()
        lessons = [lesson for module in client.get("/api/courses/reading-nexus")
                   .get_json()["modules"] for lesson in module["lessons"]]
        exercise = next(lesson for lesson in lessons if lesson["slug"].startswith("03-"))
        app.config["PANLEARN"].update({"GRADING_WORKERS": workers, "GRADING_KERNELS": kernels})
        dispatcher = LocalDispatcher(services_of(app).settings, app_factory=create_app)
        replace_services(app, dispatcher=dispatcher)
        dispatcher.start()
        site = LiveSite(app, dispatcher, exercise["exercise_id"], exercise["id"],
                        {name: token_for(client, name) for name in (*STUDENTS, "teacher")})
        try:
            yield site
        finally:
            dispatcher.stop()

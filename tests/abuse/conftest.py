"""The abuse suite: each test plays a student (or a crowd, or an author) trying to game or
jam the grader. Every test here failed on the code before the fix it guards (issue 13).

Two kinds of fixtures:

- the grading core against each sandbox the grader can use (the zygote, and bubblewrap as
  the fallback): both must hold every guarantee, and a sandbox that cannot start on this
  machine fails the test; there is no silent fallback (`pool`, `abuse_settings`);
- the real app on the `app` fixture's database (SQLite, or PostgreSQL in CI), with the
  shipped NeXus course published and students; tests that grade start real worker
  processes with real sandboxed kernels, under short limits so they stay quick.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from panlearn import create_app
from panlearn.authoring.folder import load_course_folders
from panlearn.authoring.service import import_courses
from panlearn.extensions import db
from panlearn.grading.core.pipeline import GradingOutcome, grade_notebook
from panlearn.grading.core.pool import KernelPool
from panlearn.grading.core.settings import GradingSettings
from panlearn.grading.runtime import LocalDispatcher
from panlearn.models import Exercise, Submission
from panlearn.notebooks.student import make_student_version
from panlearn.wiring import replace_services, services_of
from tests.builders import answer_source, make_org, make_user, token_for
from tests.builders import answered as answered_cells
from tests.conftest import REPO_ROOT, SANDBOXES
from tests.integration.submissions.conftest import answered


@pytest.fixture(scope="session", params=SANDBOXES)
def sandbox_kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def abuse_settings(sandbox_kind: str, shared_data_dir: Path,
                   tmp_path_factory: pytest.TempPathFactory) -> GradingSettings:
    return GradingSettings(
        sandbox=sandbox_kind,  # type: ignore[arg-type]
        cell_timeout_s=3,
        total_timeout_s=20,
        memory_mb=1024,
        cpu_s=30,
        nproc=200,
        disk_mb=100,
        fsize_mb=50,
        data_dirs=(shared_data_dir / "nexus",),
        work_dir=tmp_path_factory.mktemp(f"abuse-{sandbox_kind}"),
        preload_modules=("numpy", "h5py"),
    )


@pytest.fixture(scope="session")
def pool(abuse_settings: GradingSettings, sandbox_kind: str) -> Iterator[KernelPool]:
    with KernelPool(abuse_settings, size=2) as kernel_pool:
        assert kernel_pool.sandbox_name == sandbox_kind
        yield kernel_pool


@pytest.fixture(scope="session")
def dmc_file(shared_data_dir: Path) -> Path:
    return shared_data_dir / "nexus" / "dmc01.h5"


def grade_answer(code: str, pool: KernelPool, settings: GradingSettings,
                 dmc_file: Path) -> GradingOutcome:
    """Grade the one-answer exercise (``answer = 42``) with ``code`` as the answer cell."""
    source = answer_source()
    submission = answered_cells(make_student_version(source), {"answer": code})
    return grade_notebook(source, submission, parameters={"data_file": str(dmc_file)},
                          data_files=[dmc_file], settings=settings, pool=pool)


def printed(outcome: GradingOutcome) -> str:
    """Everything the executed notebook's cells printed."""
    return "".join(o.get("text", "") for c in outcome.executed_notebook.cells
                   for o in c.get("outputs", []))


def only_check(outcome: GradingOutcome):
    (result,) = outcome.checks
    return result


@pytest.fixture
def still_grades(pool, abuse_settings, dmc_file):
    """After each abuse, an honest submission still gets full marks from the same pool."""
    yield
    assert grade_answer("answer = 42", pool, abuse_settings, dmc_file).score == 1


# -- the app, with workers ----------------------------------------------------

COURSE = REPO_ROOT / "courses" / "reading-nexus"

#: The two answers of `03-exercise-peak-to-d-spacing`, right.
RIGHT_PEAK = "float(two_theta[np.argmax(counts)])"
RIGHT_D = "wavelength / (2 * np.sin(np.radians(peak_two_theta / 2)))"

STUDENTS = ("alice", "bob", "carol")


@pytest.fixture
def course_app(app: Flask) -> Flask:
    """The app with the NeXus course published, three students and an author; no workers."""
    app.config["PANLEARN"].update({
        "GRADING_TIMEOUT_S": 30.0, "GRADING_CELL_TIMEOUT_S": 10.0, "GRADING_LEASE_S": 3.0,
        "GRADING_KERNELS": 1, "SUBMISSIONS_PER_HOUR": 100,
        "SUBMISSIONS_QUEUED_PER_STUDENT": 100,
    })
    make_org(app, "psi")
    for name in STUDENTS:
        make_user(app, name)
    make_user(app, "teacher", "author", "psi")
    with app.app_context():
        import_courses(db.session, load_course_folders(COURSE), publish=True)
        db.session.remove()
    return app


@pytest.fixture
def grading_app(course_app: Flask, bubblewrap: str) -> Flask:
    """`course_app` where grading really runs: bubblewrap must be there."""
    return course_app


@pytest.fixture
def exercise_ids(course_app: Flask) -> list[int]:
    """The course's exercises; the first is the peak → d-spacing one."""
    with course_app.app_context():
        ids = list(db.session.scalars(select(Exercise.id).order_by(Exercise.id)))
        db.session.remove()
    return ids


@pytest.fixture
def tokens(course_app: Flask) -> dict[str, dict[str, str]]:
    """An Authorization header per student."""
    client = course_app.test_client()
    return {name: token_for(client, name) for name in STUDENTS}


@pytest.fixture
def local_workers(grading_app: Flask) -> Iterator[Callable[[int], LocalDispatcher]]:
    """Start `n` in-app grading worker processes (spawned, each with warm kernels)."""
    started: list[LocalDispatcher] = []

    def start(n: int) -> LocalDispatcher:
        grading_app.config["PANLEARN"]["GRADING_WORKERS"] = n
        dispatcher = LocalDispatcher(services_of(grading_app).settings, app_factory=create_app)
        replace_services(grading_app, dispatcher=dispatcher)
        dispatcher.start()
        started.append(dispatcher)
        return dispatcher

    yield start
    for dispatcher in started:
        dispatcher.stop()


def notebook(peak: str = RIGHT_PEAK, d: str = RIGHT_D, *, before: str = "",
             after: str = "") -> Any:
    """The exercise answered (right by default), with extra code around the first answer."""
    nb = answered(peak, d)
    cell = next(c for c in nb.cells if c.source.startswith("peak_two_theta = "))
    cell.source = "\n".join(part for part in (before, cell.source, after) if part)
    return nb


def sleeper(seconds: float) -> Any:
    """A right answer that takes `seconds` to compute."""
    return notebook(after=f"import time; time.sleep({seconds})")


def submit(client: FlaskClient, exercise_id: int, headers: dict[str, str], nb: Any) -> Any:
    """POST a notebook to an exercise through the API."""
    body = nb if isinstance(nb, bytes) else nbformat.writes(nb).encode()
    return client.post(f"/api/exercises/{exercise_id}/submissions", data=body,
                       headers=headers, content_type="application/json")


def wait_done(client: FlaskClient, url: str, headers: dict[str, str],
              timeout: float = 90.0) -> dict[str, Any]:
    """Poll a submission until it is graded or failed."""
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = client.get(url, headers=headers).get_json()
        if body["state"] in ("graded", "failed"):
            return body
        time.sleep(0.1)
    raise AssertionError(f"{url} still {body.get('state')} after {timeout} s: {body}")


def rows(app: Flask) -> dict[int, Submission]:
    """Every submission, detached from the session, by id."""
    with app.app_context():
        found = {s.id: s for s in db.session.scalars(select(Submission))}
        db.session.expunge_all()
        db.session.remove()
    return found

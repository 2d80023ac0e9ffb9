"""A published exercise on real data, a student, and grading workers that really run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import nbformat
import pytest

from panlearn.authoring.folder import load_course_folders
from panlearn.authoring.service import import_courses
from panlearn.extensions import db
from panlearn.notebooks.student import make_student_version
from tests.builders import make_org, make_user, token_for
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow

EXERCISE = REPO_ROOT / "courses" / "reading-nexus" / "03-exercise-peak-to-d-spacing.ipynb"


@pytest.fixture
def grading_app(app, tmp_path, bubblewrap):
    """The app with short limits, the shipped course imported and a student."""
    app.config["PANLEARN"].update({
        "GRADING_TIMEOUT_S": 20.0, "GRADING_CELL_TIMEOUT_S": 5.0, "GRADING_LEASE_S": 3.0,
        "GRADING_KERNELS": 1, "SUBMISSIONS_PER_HOUR": 50,
    })
    make_org(app, "psi")
    make_user(app, "student")
    make_user(app, "teacher", "author", "psi")
    with app.app_context():
        import_courses(db.session, load_course_folders(REPO_ROOT / "courses" / "reading-nexus"),
                       publish=True)
    return app


@pytest.fixture
def exercise_id(grading_app):
    client = grading_app.test_client()
    body = client.get("/api/courses/reading-nexus").get_json()
    return next(lesson["exercise_id"] for module in body["modules"]
                for lesson in module["lessons"] if lesson["exercise_id"])


@pytest.fixture
def student(grading_app):
    return token_for(grading_app.test_client(), "student")


def source_notebook():
    return nbformat.read(EXERCISE, as_version=4)


def student_notebook():
    return make_student_version(source_notebook())


def answered(peak: str, d: str):
    """The student version with the two answers filled in."""
    notebook = student_notebook()
    answers = iter([f"peak_two_theta = {peak}", f"d_spacing = {d}"])
    for cell in notebook.cells:
        if "raise NotImplementedError()" in cell.source:
            cell.source = next(answers)
    return notebook


def submit(client, exercise_id, headers, notebook):
    return client.post(f"/api/exercises/{exercise_id}/submissions",
                       data=nbformat.writes(notebook), headers=headers,
                       content_type="application/json")


def wait_for(client, url, headers, states=("graded", "failed"), timeout=90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(url, headers=headers).get_json()
        if body["state"] in states:
            return body
        time.sleep(0.1)
    raise AssertionError(f"{url} still {body['state']} after {timeout} s")


def worker_env(app) -> dict[str, str]:
    """The environment of a `flask worker` process sharing the test's database."""
    settings = app.config["PANLEARN"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PANLEARN_")}
    for name in ("INSTANCE_DIR", "DATABASE_URL", "SECRET_KEY", "GRADING_TIMEOUT_S",
                 "GRADING_CELL_TIMEOUT_S", "GRADING_LEASE_S", "GRADING_KERNELS", "CONTENT_DIR"):
        env[f"PANLEARN_{name}"] = str(settings[name])
    env["PANLEARN_DATA_DIRS"] = os.pathsep.join(settings["DATA_DIRS"])
    env["PANLEARN_GRADING_WORKERS"] = "1"
    return env


def start_worker(app, extra_env=None) -> subprocess.Popen:
    env = {**worker_env(app), **(extra_env or {})}
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "worker"],
                            cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


def stop(process: subprocess.Popen) -> str:
    """Stop a worker and return the end of its log."""
    if process.poll() is None:
        process.terminate()
    try:
        _, err = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
    return (err or b"").decode(errors="replace")[-3000:]


def dump(obj) -> str:
    return json.dumps(obj, indent=1)


"""At scale: the same grading on a real Celery worker with a real redis-server broker."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import pytest

from panlearn.grading.runtime import CeleryDispatcher
from panlearn.grading.tasks import configure
from panlearn.wiring import replace_services
from tests.integration.submissions.conftest import (
    answered,
    dump,
    start_worker,
    stop,
    submit,
    wait_for,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def redis_url():
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no"], stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    server.terminate()
    server.wait(timeout=10)


def test_celery_worker_grades_a_submission(grading_app, exercise_id, student, redis_url):
    grading_app.config["PANLEARN"]["BROKER_URL"] = redis_url
    configure(redis_url)
    replace_services(grading_app, dispatcher=CeleryDispatcher(grading_app))
    worker = start_worker(grading_app, {"PANLEARN_BROKER_URL": redis_url})
    client = grading_app.test_client()
    try:
        notebook = answered("float(two_theta[np.argmax(counts)])",
                            "wavelength / (2 * np.sin(np.radians(peak_two_theta / 2)))")
        response = submit(client, exercise_id, student, notebook)
        assert response.status_code == 202
        body = wait_for(client, response.headers["Location"], student, timeout=120)
    finally:
        log = stop(worker)
    assert (body["state"], body["score"]) == ("graded", 3), dump(body) + log

"""At scale, on PostgreSQL: kill -9 a Celery worker, and kill redis-server, mid-grading."""

from __future__ import annotations

import time

import psutil
import pytest

from tests.builders import token_for
from tests.integration.faults.conftest import (
    assert_graded_exactly_once,
    exercise_id_of,
    make_fault_app,
    notebook_body,
    python_children,
    states,
    use_broker,
    wait_all_done,
    wait_state,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def celery_app(tmp_path, postgres_url, redis_server, bubblewrap):
    """The app on PostgreSQL with a Celery dispatcher on the test's redis-server."""
    app = make_fault_app(tmp_path, postgres_url, BROKER_URL=redis_server.url)
    use_broker(app, redis_server.url)
    return app


def _post(app, headers, body) -> int:
    response = app.test_client().post(f"/api/exercises/{exercise_id_of(app)}/submissions",
                                      data=body, headers=headers,
                                      content_type="application/json")
    assert response.status_code == 202, response.get_json()
    return response.get_json()["id"]


def _grading_children(worker) -> list[psutil.Process]:
    """The pool processes of a Celery worker: those with sandboxes under them.

    A zygote's children keep its command line; bubblewrap sandboxes run bwrap.
    """
    def sandbox(process: psutil.Process) -> bool:
        try:
            return process.name() == "bwrap" or "panlearn.grading.core.zygote" in " ".join(
                process.cmdline())
        except psutil.Error:
            return False

    return [child for child in python_children(worker)
            if any(sandbox(p) for p in child.children(recursive=True))]


def test_celery_worker_killed_mid_grading_is_graded_exactly_once(celery_app, processes):
    headers = token_for(celery_app.test_client(), "student")
    worker = processes.worker(celery_app)
    slow = notebook_body(sleep=3)
    accepted = [_post(celery_app, headers, slow) for _ in range(2)]
    wait_state(celery_app, accepted[0], ("running",), timeout=90)
    victims = _grading_children(worker)
    assert victims, processes.logs()
    for victim in victims:
        victim.kill()  # kill -9 the pool process grading it; the master lives on
    assert states(celery_app)[accepted[0]] == "running"
    accepted.append(_post(celery_app, headers, notebook_body()))
    # Recovery: the message is rejected back to the queue (its claim is still live, so a
    # no-op), the lease expires (3 s) and the sweep (every 10 s) sends it again.
    wait_all_done(celery_app, 120, processes.logs)
    rows = assert_graded_exactly_once(celery_app, set(accepted), logs=processes.logs)
    assert rows[accepted[0]].attempts >= 2


def test_whole_celery_worker_killed_and_replaced(celery_app, processes):
    headers = token_for(celery_app.test_client(), "student")
    worker = processes.worker(celery_app)
    accepted = [_post(celery_app, headers, notebook_body(sleep=3)) for _ in range(2)]
    wait_state(celery_app, accepted[0], ("running",), timeout=90)
    processes.kill_tree(worker)  # the machine dies: master, pool, beat and kernels
    accepted.append(_post(celery_app, headers, notebook_body()))
    processes.worker(celery_app)  # its replacement; the unacked message is not redelivered
    wait_all_done(celery_app, 120, processes.logs)
    assert_graded_exactly_once(celery_app, set(accepted), logs=processes.logs)


def test_redis_killed_mid_grading_and_restarted(celery_app, redis_server, processes):
    headers = token_for(celery_app.test_client(), "student")
    processes.worker(celery_app)
    accepted = [_post(celery_app, headers, notebook_body(sleep=2)) for _ in range(3)]
    wait_state(celery_app, accepted[0], ("running",), timeout=90)
    redis_server.kill()  # every queued message is gone
    # Submissions still go in while the broker is down: committed first, then dispatched.
    started = time.monotonic()
    accepted += [_post(celery_app, headers, notebook_body()) for _ in range(2)]
    assert time.monotonic() - started < 30, "the API hung on a dead broker"
    time.sleep(2)
    redis_server.start()  # same port, empty
    wait_all_done(celery_app, 150, processes.logs)
    assert_graded_exactly_once(celery_app, set(accepted), logs=processes.logs)

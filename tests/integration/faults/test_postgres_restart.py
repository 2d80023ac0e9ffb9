"""PostgreSQL restarted in the middle of grading: workers and the web app carry on."""

from __future__ import annotations

import time

import pytest

from tests.builders import token_for
from tests.integration.faults.conftest import (
    PostgresCluster,
    assert_graded_exactly_once,
    exercise_id_of,
    make_fault_app,
    notebook_body,
    use_broker,
    wait_all_done,
    wait_state,
)

pytestmark = [pytest.mark.slow, pytest.mark.requires_bubblewrap]


@pytest.fixture
def cluster(tmp_path_factory):
    """Our own cluster: the test stops and starts it."""
    cluster = PostgresCluster(tmp_path_factory.mktemp("pg-restart")).init()
    yield cluster
    cluster.close()


@pytest.mark.parametrize("grading", ["celery", "database-polling worker"])
def test_postgres_restart_mid_grading(tmp_path, cluster, grading, processes, request):
    url = cluster.create_database("panlearn")
    overrides = {}
    if grading == "celery":
        redis_server = request.getfixturevalue("redis_server")
        overrides["BROKER_URL"] = redis_server.url
    app = make_fault_app(tmp_path, url, **overrides)
    if grading == "celery":
        use_broker(app, redis_server.url)
    client = app.test_client()
    headers = token_for(client, "student")
    post = f"/api/exercises/{exercise_id_of(app)}/submissions"

    def submit(body: bytes):
        return client.post(post, data=body, headers=headers, content_type="application/json")

    processes.worker(app)
    accepted = set()
    for _ in range(3):
        response = submit(notebook_body(sleep=2))
        assert response.status_code == 202
        accepted.add(response.get_json()["id"])
    wait_state(app, min(accepted), ("running",), timeout=90)

    cluster.stop("fast")  # every connection is cut, mid-grading
    down = submit(notebook_body())
    # A submission the database cannot take is refused plainly, never half-accepted.
    assert down.status_code >= 500 and down.content_type == "application/problem+json", (
        down.status_code, down.get_data(as_text=True)[:500])
    time.sleep(2)
    cluster.start()

    response = submit(notebook_body())  # the web app reconnects by itself
    assert response.status_code == 202, response.get_json()
    accepted.add(response.get_json()["id"])
    wait_all_done(app, 150, processes.logs)
    assert_graded_exactly_once(app, accepted, logs=processes.logs)
    with app.app_context():
        from panlearn.extensions import db

        db.session.remove()
        db.engine.dispose()

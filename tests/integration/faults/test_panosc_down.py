"""The PaNOSC upstream goes away mid-run: exercises whose data is cached grade as before."""

from __future__ import annotations

import pytest

from tests.builders import token_for
from tests.integration.datasets.panosc_server import PanoscTestServer
from tests.integration.faults.conftest import (
    assert_graded_exactly_once,
    exercise_id_of,
    free_port,
    make_fault_app,
    notebook_body,
    wait_all_done,
    wait_state,
)

pytestmark = [pytest.mark.slow, pytest.mark.requires_bubblewrap]


def test_grading_goes_on_when_panosc_goes_away(tmp_path, shared_data_dir, processes):
    upstream = PanoscTestServer(shared_data_dir).start()
    try:
        app = make_fault_app(tmp_path, f"sqlite:///{tmp_path / 'faults.sqlite3'}",
                             PANOSC_URL=upstream.url("provider1"))
        client = app.test_client()
        headers = token_for(client, "student")
        post = f"/api/exercises/{exercise_id_of(app)}/submissions"

        def submit(body: bytes) -> int:
            response = client.post(post, data=body, headers=headers,
                                   content_type="application/json")
            assert response.status_code == 202, response.get_json()
            return response.get_json()["id"]

        search = client.get("/api/datasets?q=test")  # an author's search, while it is up
        assert search.status_code == 200, search.get_json()
        first = processes.worker(app)  # fills the verified file cache from the local mirror
        accepted = {submit(notebook_body())}
        wait_all_done(app, 90, processes.logs)

        slow = submit(notebook_body(sleep=2))
        wait_state(app, slow, ("running",), timeout=60)
        upstream.stop()  # the upstream goes away mid-run
        accepted.add(slow)
        wait_all_done(app, 90, processes.logs)
    finally:
        upstream.stop()

    # A new worker without the mirror, the upstream dead, and no way out to the internet:
    # the dataset files come from the file cache alone.
    processes.kill_tree(first)
    dead = f"http://127.0.0.1:{free_port()}"
    processes.worker(app, PANLEARN_DATA_DIRS="", HTTP_PROXY=dead, HTTPS_PROXY=dead,
                     http_proxy=dead, https_proxy=dead, NO_PROXY="", no_proxy="")
    accepted |= {submit(notebook_body()) for _ in range(2)}
    wait_all_done(app, 90, processes.logs)
    assert_graded_exactly_once(app, accepted, logs=processes.logs)
    # The author's search still answers from the response cache, marked stale.
    stale = client.get("/api/datasets?q=test")
    assert stale.status_code in (200, 503), stale.get_json()

"""Uploads a crowd (or one student with a script) throws at the submission endpoint.

Issue 13, item 8: two identical submissions at once answered 500 (`UNIQUE constraint failed:
notebook_blob.sha256`); 45 parallel uploads got 39 accepted against a limit of 30; a 10 MiB
notebook of 100,000 cells spent 52 s in the request and was accepted; a notebook refused after
seconds of parsing counted against no limit.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import nbformat
import pytest
import requests
from nbformat.v4 import new_code_cell
from sqlalchemy import func, select
from werkzeug.serving import make_server

from panlearn.extensions import db
from panlearn.models import NotebookBlob, Submission
from tests.abuse.conftest import notebook, submit


@pytest.fixture
def server(course_app) -> Iterator[str]:
    """The app behind werkzeug's threaded server on 127.0.0.1: requests really overlap."""
    httpd = make_server("127.0.0.1", 0, course_app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(timeout=10)


def _at_once(url: str, requests_: list[tuple[dict[str, str], bytes]]) -> list[requests.Response]:
    """POST every (headers, body) in its own thread, all released at the same moment."""
    barrier = threading.Barrier(len(requests_))
    answers: list[requests.Response | None] = [None] * len(requests_)

    def post(index: int, headers: dict[str, str], body: bytes) -> None:
        with requests.Session() as session:
            barrier.wait(30)
            answers[index] = session.post(url, data=body, timeout=120, headers={
                **headers, "Content-Type": "application/json"})

    threads = [threading.Thread(target=post, args=(i, *item)) for i, item in
               enumerate(requests_)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    assert all(answer is not None for answer in answers)
    return answers  # type: ignore[return-value]


def _count(app, column) -> int:
    with app.app_context():
        value = db.session.scalar(select(func.count(column)))
        db.session.remove()
    return value


def test_identical_submissions_at_the_same_moment_are_all_accepted(
        course_app, exercise_ids, tokens, server):
    url = f"{server}/api/exercises/{exercise_ids[0]}/submissions"
    blobs = _count(course_app, NotebookBlob.sha256)  # the course's own notebooks
    for attempt in range(3):  # a new notebook each round: its blob does not exist yet
        body = nbformat.writes(notebook(after=f"# round {attempt}")).encode()
        answers = _at_once(url, [(tokens[name], body) for name in tokens] * 2)
        assert [a.status_code for a in answers] == [202] * 6, [a.text for a in answers]
    assert _count(course_app, Submission.id) == 18
    assert _count(course_app, NotebookBlob.sha256) == blobs + 3


def test_parallel_uploads_never_exceed_the_hourly_limit(course_app, exercise_ids, tokens,
                                                       server):
    course_app.config["PANLEARN"]["SUBMISSIONS_PER_HOUR"] = 30
    url = f"{server}/api/exercises/{exercise_ids[0]}/submissions"
    bodies = [nbformat.writes(notebook(after=f"# try {i}")).encode() for i in range(45)]
    answers = _at_once(url, [(tokens["alice"], body) for body in bodies])
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [202] * 30 + [429] * 15, statuses
    assert all(int(a.headers["Retry-After"]) >= 1 for a in answers if a.status_code == 429)
    assert _count(course_app, Submission.id) == 30


def _padded(cells: int = 0, outputs: int = 0, depth: int = 0) -> bytes:
    """The exercise's own notebook, answered, made huge in one way (JSON built directly:
    nbformat would validate every padding cell as it is made)."""
    nb = json.loads(nbformat.writes(notebook()))
    nb["cells"].extend({"cell_type": "code", "id": f"pad-{i}", "execution_count": None,
                        "metadata": {}, "outputs": [], "source": "x = 1"}
                       for i in range(cells))
    if outputs:
        nb["cells"].append({"cell_type": "code", "id": "loud", "execution_count": 1,
                            "metadata": {}, "source": "print(1)", "outputs": [
                                {"output_type": "stream", "name": "stdout", "text": "1\n"}
                                for _ in range(outputs)]})
    nb["metadata"]["deep"] = "@DEEP@"
    return json.dumps(nb).replace('"@DEEP@"', "[" * depth + "1" + "]" * depth).encode()


@pytest.mark.parametrize(("shape", "body", "named"), [
    ("100,000 cells", lambda: _padded(cells=100_000), "cells"),
    ("100,000 outputs", lambda: _padded(outputs=100_000), "outputs"),
    ("nested 100,000 deep", lambda: _padded(depth=100_000), "nested"),
], ids=["cells", "outputs", "depth"])
def test_an_oversized_notebook_is_refused_before_it_is_parsed(
        course_app, exercise_ids, tokens, shape, body, named):
    data = body()
    client = course_app.test_client()
    started = time.perf_counter()
    response = submit(client, exercise_ids[0], tokens["alice"], data)
    elapsed = time.perf_counter() - started
    print(f"\n{shape} ({len(data) / 2**20:.1f} MiB): {response.status_code} in {elapsed:.2f} s")
    assert response.status_code == 400, response.get_json()
    assert named in response.get_json()["detail"]
    assert _count(course_app, Submission.id) == 0


def test_refused_uploads_count_against_the_hourly_limit(course_app, exercise_ids, tokens):
    course_app.config["PANLEARN"]["SUBMISSIONS_PER_HOUR"] = 3
    client = course_app.test_client()
    other_exercise = nbformat.v4.new_notebook(cells=[new_code_cell("x = 1")])
    refused = [submit(client, exercise_ids[0], tokens["alice"], b'{"cells": "not a notebook'),
               submit(client, exercise_ids[0], tokens["alice"], other_exercise),
               submit(client, exercise_ids[0], tokens["alice"], _padded(cells=50_000))]
    assert [r.status_code for r in refused] == [400, 400, 400]
    limited = submit(client, exercise_ids[0], tokens["alice"], notebook())
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    # Per student and exercise: bob is not limited by alice's refused uploads.
    assert submit(client, exercise_ids[0], tokens["bob"], notebook()).status_code == 202

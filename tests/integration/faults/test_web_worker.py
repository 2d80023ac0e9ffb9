"""kill -9 a gunicorn worker in the middle of a submission upload."""

from __future__ import annotations

import socket
import time

import psutil
import pytest
import requests

from tests.integration.faults.conftest import (
    assert_graded_exactly_once,
    exercise_id_of,
    free_port,
    make_fault_app,
    notebook_body,
    token,
    wait_all_done,
)

pytestmark = [pytest.mark.slow, pytest.mark.requires_bubblewrap]


def _worker_serving(master: psutil.Process, client_port: int) -> psutil.Process:
    """The gunicorn worker holding the server end of our connection."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for worker in master.children():
            try:
                connections = worker.net_connections(kind="tcp")
            except psutil.Error:
                continue
            if any(c.raddr and c.raddr.port == client_port for c in connections):
                return worker
        time.sleep(0.05)
    raise AssertionError("no gunicorn worker holds the connection")


def test_web_worker_killed_mid_request_loses_nothing(tmp_path, processes):
    app = make_fault_app(tmp_path, f"sqlite:///{tmp_path / 'faults.sqlite3'}")
    port = free_port()
    gunicorn = processes.gunicorn(app, port, workers=2)
    processes.worker(app)  # a DB-polling `flask worker` grades (no broker)
    base = f"http://127.0.0.1:{port}"
    headers = {**token(base), "Content-Type": "application/json"}
    post = f"{base}/api/exercises/{exercise_id_of(app)}/submissions"
    body = notebook_body()
    accepted: set[int] = set()

    def submit() -> None:
        response = requests.post(post, data=body, headers=headers, timeout=60)
        assert response.status_code == 202, response.text
        accepted.add(response.json()["id"])

    for _ in range(2):
        submit()

    # A submission whose upload stops half-way: the worker is inside the request, reading.
    master = psutil.Process(gunicorn.pid)
    workers_before = {child.pid for child in master.children()}
    raw = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = (f"POST /api/exercises/{exercise_id_of(app)}/submissions HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{port}\r\nAuthorization: {headers['Authorization']}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    raw.sendall(head.encode() + body[: len(body) // 2])
    victim = _worker_serving(master, raw.getsockname()[1])
    time.sleep(0.5)  # the app has authenticated and is waiting for the rest of the body
    victim.kill()  # kill -9, mid-request
    victim.wait(10)
    try:
        raw.sendall(body[len(body) // 2:])
        answer = raw.recv(4096)
    except OSError:
        answer = b""
    raw.close()
    assert answer == b"", f"a killed worker answered: {answer[:200]!r}"

    # The master replaces the worker; the service goes on and nothing half-sent was stored.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        current = {child.pid for child in master.children()}
        if len(current) == 2 and victim.pid not in current:
            break
        time.sleep(0.1)
    assert victim.pid not in {child.pid for child in master.children()}
    assert len(master.children()) == 2, workers_before
    for _ in range(4):  # both workers, the new one included, take submissions
        submit()
    assert requests.get(f"{base}/", timeout=30).status_code == 200

    wait_all_done(app, 120, processes.logs)
    rows = assert_graded_exactly_once(app, accepted, logs=processes.logs)
    assert set(rows) == accepted  # the interrupted upload left nothing behind


def test_web_worker_killed_with_its_local_grading_pool(tmp_path, processes):
    """Embedded mode: the local grading processes of a killed web worker stop themselves,
    the replacement starts its own, and the work is graded exactly once."""
    app = make_fault_app(tmp_path, f"sqlite:///{tmp_path / 'faults.sqlite3'}")
    app.config["PANLEARN"]["GRADING_WORKERS"] = 1  # exported to gunicorn: one per web worker
    port = free_port()
    env_workers = processes.gunicorn(app, port, workers=1)
    base = f"http://127.0.0.1:{port}"
    headers = {**token(base), "Content-Type": "application/json"}
    post = f"{base}/api/exercises/{exercise_id_of(app)}/submissions"
    accepted = set()
    response = requests.post(post, data=notebook_body(sleep=3), headers=headers, timeout=60)
    assert response.status_code == 202, response.text
    accepted.add(response.json()["id"])
    master = psutil.Process(env_workers.pid)
    [web] = master.children()
    deadline = time.monotonic() + 60
    graders: list[psutil.Process] = []
    while time.monotonic() < deadline and not graders:
        graders = [p for p in web.children() if "python" in p.name().lower()]
        time.sleep(0.2)
    assert graders, processes.logs()
    web.kill()  # kill -9 the web worker; its grading process is orphaned
    for grader in graders:
        grader.wait(90)  # it notices, finishes what it holds, and stops
    response = requests.post(post, data=notebook_body(), headers=headers, timeout=60)
    assert response.status_code == 202, response.text  # the replacement starts a new pool
    accepted.add(response.json()["id"])
    wait_all_done(app, 120, processes.logs)
    assert_graded_exactly_once(app, accepted, logs=processes.logs)

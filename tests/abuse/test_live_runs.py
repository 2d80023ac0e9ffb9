"""Live runs under abuse (issue 15): the same sandbox and the same queue as grading.

A class running cells must not starve grading, nor one learner's runs another's
(they share the fair scheduler); and cells run through `POST …/runs` get no
network, no secrets and no more resources than a submission does.
"""

from __future__ import annotations

import shutil
import socket
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from panlearn.errors import RateLimitedError
from panlearn.extensions import db
from panlearn.grading.jobs import claim_next
from panlearn.grading.queue import RUN, SUBMISSION, queued_ahead
from panlearn.grading.runs import RunLimits, request_run
from panlearn.models import Exercise, LiveRun, LiveRunState, Submission, User
from tests.abuse.conftest import notebook, submit
from tests.builders import make_user
from tests.live import PEAK_CELL, live_site, run, student_notebook, with_cells

LEASE = timedelta(seconds=30)


def _queue_runs(app: Flask, owners: list[str], cell: str = PEAK_CELL) -> list[int]:
    """Queue one run per name in `owners` (no worker takes them), as the API would."""
    ids = []
    with app.app_context():
        exercise = db.session.scalar(select(Exercise).order_by(Exercise.id))
        for name in owners:
            viewer = db.session.scalar(select(User).where(User.username == name))
            ids.append(request_run(db.session, exercise.lesson, viewer, student_notebook(), cell,
                                   limits=RunLimits(waiting_per_owner=100)).id)
        db.session.remove()
    return ids


def _claim_all(app: Flask) -> list[tuple[str, str]]:
    """Claim and finish jobs one at a time, as one worker would: (kind, owner's name)."""
    taken = []
    with app.app_context():
        names = {u.id: u.username for u in db.session.scalars(select(User))}
        while (claimed := claim_next(db.session, LEASE, attempts=3)) is not None:
            table = LiveRun if claimed.kind == RUN else Submission
            job = db.session.get(table, claimed.id)
            owner = job.owner if claimed.kind == RUN else job.user_id
            taken.append((claimed.kind, names[owner]))
            if claimed.kind == RUN:
                job.state = LiveRunState.DONE
            else:
                job.state = "graded"
            job.lease_expires_at = None
            db.session.commit()
        db.session.remove()
    return taken


def test_a_class_running_cells_does_not_starve_grading(course_app, exercise_ids, tokens):
    class_ = [f"learner{i}" for i in range(6)]
    for name in class_:
        make_user(course_app, name)
    # Six learners run cells, two runs each, before alice hands in her notebook.
    _queue_runs(course_app, class_ * 2)
    response = submit(course_app.test_client(), exercise_ids[0], tokens["alice"], notebook())
    assert response.status_code == 202
    with course_app.app_context():
        submission = db.session.get(Submission, response.get_json()["id"])
        # Her first job waits behind the class's first runs only, and Retry-After knows it.
        assert queued_ahead(db.session, submission) == 6
        db.session.remove()
    taken = _claim_all(course_app)
    assert taken.index((SUBMISSION, "alice")) == 6
    assert taken[:6] == [(RUN, name) for name in class_]
    assert len(taken) == 13


def test_one_learners_runs_take_turns_with_another_learners_work(course_app, exercise_ids,
                                                                 tokens):
    _queue_runs(course_app, ["alice", "alice", "alice"])
    _queue_runs(course_app, ["bob"])
    submit(course_app.test_client(), exercise_ids[0], tokens["carol"], notebook())
    _queue_runs(course_app, ["carol"])
    taken = _claim_all(course_app)
    assert taken == [(RUN, "alice"), (RUN, "bob"), (SUBMISSION, "carol"), (RUN, "alice"),
                     (RUN, "carol"), (RUN, "alice")]


def test_a_learner_with_a_running_run_gets_no_second_worker(course_app, exercise_ids, tokens):
    _queue_runs(course_app, ["alice"])
    submit(course_app.test_client(), exercise_ids[0], tokens["alice"], notebook())
    _queue_runs(course_app, ["bob"])
    with course_app.app_context():
        first = claim_next(db.session, LEASE, attempts=3)
        second = claim_next(db.session, LEASE, attempts=3)
        third = claim_next(db.session, LEASE, attempts=3)
        db.session.remove()
    # alice's run runs; her submission waits for it; bob's run is taken meanwhile.
    assert (first.kind, second.kind, third) == (RUN, RUN, None)
    with course_app.app_context():
        assert db.session.get(LiveRun, second.id).owner != db.session.get(LiveRun,
                                                                          first.id).owner
        db.session.remove()


# -- the sandbox, through /runs ---------------------------------------------------------

needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with live_site(tmp_path_factory.mktemp("live-abuse"), LIVE_TIMEOUT_S=6.0,
                   GRADING_MEMORY_MB=1024, GRADING_NPROC=200, GRADING_DISK_MB=100,
                   GRADING_FSIZE_MB=50) as made:
        yield made


def _printed(body: dict) -> str:
    return "".join(o.get("text", "") for o in body["outputs"])


def _run(site, code: str, who: str = "alice") -> dict:
    response = run(site.client(), site, PEAK_CELL, site.tokens[who],
                   with_cells(**{PEAK_CELL: code}))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


@needs_bwrap
@pytest.mark.slow
def test_no_network_from_a_run_even_to_a_local_listener(site):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        port = listener.getsockname()[1]
        body = _run(site, "import socket\ntry:\n"
                          f"    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
                          "    print('CONNECTED')\nexcept OSError as exc:\n"
                          "    print('refused', type(exc).__name__)")
        with pytest.raises(BlockingIOError):
            listener.accept()
    assert "refused" in _printed(body) and "CONNECTED" not in _printed(body)


@needs_bwrap
@pytest.mark.slow
def test_no_secrets_files_or_environment_in_a_run(site, monkeypatch):
    instance = Path(site.app.config["PANLEARN"]["INSTANCE_DIR"])
    database = site.app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    repo = Path(__file__).resolve().parents[2]
    code = ("import os\nseen = []\n"
            f"for path in ['/etc/shadow', {database!r}, {str(instance / 'secret_key')!r},"
            f" {str(repo / 'pyproject.toml')!r}]:\n"
            "    try:\n        open(path).read()\n        seen.append(path)\n"
            "    except OSError:\n        pass\n"
            "seen += [k for k in os.environ if k.startswith('PANLEARN') or 'SECRET' in k]\n"
            f"repo = {str(repo)!r}\n"
            "print('visible:', seen, sorted(os.listdir(repo)) if os.path.isdir(repo) else [])")
    shown = _printed(_run(site, code)).split("visible: ")[1].splitlines()[0]
    seen, _, listing = shown.partition("] ")
    assert seen == "["  # no file read, no variable
    assert set(eval(listing)) <= {".venv", "panlearn"}  # never courses/, instance/ or tests/


@needs_bwrap
@pytest.mark.slow
def test_a_runs_memory_processes_and_disk_are_capped_as_a_submissions(site):
    body = _run(site, "x = bytearray(8 * 1024**3)", who="bob")
    assert body["status"] == "error"
    assert body["outputs"][-1]["ename"] == "MemoryError"

    forks = ("import os, time\nn = 0\ntry:\n    while n < 5000:\n"
             "        if os.fork() == 0:\n            time.sleep(60)\n            os._exit(0)\n"
             "        n += 1\nexcept OSError as exc:\n    print('forks', n, type(exc).__name__)")
    printed = _printed(_run(site, forks, who="bob"))
    assert 150 < int(printed.split("forks ")[1].split()[0]) < 200

    disk = ("import os\nchunk = b'0' * (10 * 1024**2)\n"
            "with open(os.path.join(os.environ['TMPDIR'], 'big'), 'wb') as f:\n"
            "    for _ in range(200):\n        f.write(chunk)")
    body = _run(site, disk, who="bob")
    assert body["status"] == "error" and "File too large" in str(body["outputs"][-1])

    # A cell that ignores the interrupt is stopped with the whole sandbox, and says so.
    stubborn = ("while True:\n    try:\n        while True:\n            pass\n"
                "    except KeyboardInterrupt:\n        pass")
    body = _run(site, stubborn, who="bob")
    assert body["status"] == "timeout" and body["message"].startswith("Stopped after 6 s")
    # And the worker carries on.
    assert _printed(_run(site, "print(6 * 7)", who="bob")) == "42\n"


def test_anonymous_viewers_share_one_turn(course_app):
    with course_app.app_context():
        exercise = db.session.scalar(select(Exercise).order_by(Exercise.id))
        limits = RunLimits(anonymous=True, waiting_per_owner=2)
        for _ in range(2):
            request_run(db.session, exercise.lesson, None, student_notebook(), PEAK_CELL,
                        limits=limits)
        with pytest.raises(RateLimitedError):
            request_run(db.session, exercise.lesson, None, student_notebook(), PEAK_CELL,
                        limits=limits)
        assert {r.owner for r in db.session.scalars(select(LiveRun))} == {0}
        db.session.remove()

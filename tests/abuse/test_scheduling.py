"""One student cannot starve the class: one running submission each, a capped queue, turns.

Issue 13, item 5: three slow notebooks from one student made another student's correct
submission wait two minutes before it started, and nothing limited how much one student
could queue.
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from datetime import timedelta
from typing import Any

import nbformat
import pytest
from flask import Flask
from sqlalchemy import select, update

from panlearn.extensions import db
from panlearn.grading.jobs import claim, claim_next
from panlearn.grading.queue import queued_ahead
from panlearn.models import Submission, SubmissionState, User, utcnow
from panlearn.notebooks.student import make_student_version
from tests.abuse.conftest import (
    COURSE,
    notebook,
    rows,
    sleeper,
    submit,
    wait_done,
)
from tests.integration.faults.conftest import (  # noqa: F401 (fixtures)
    process_env,
    processes,
    redis_server,
    use_broker,
)
from tests.web.conftest import sign_in
from tests.web.test_submit_page import _post

LEASE = timedelta(seconds=30)


def _user_ids(app: Flask) -> dict[str, int]:
    with app.app_context():
        found = {u.username: u.id for u in db.session.scalars(select(User))}
        db.session.remove()
    return found


def _finish(app: Flask, submission_id: int) -> None:
    """Record a claimed submission as graded (what a worker's record step does)."""
    with app.app_context():
        db.session.execute(update(Submission).where(Submission.id == submission_id).values(
            state=SubmissionState.GRADED, score=0, max_score=3, finished_at=utcnow(),
            lease_expires_at=None))
        db.session.commit()
        db.session.remove()


# -- the queue's order ---------------------------------------------------------------------


def test_claims_take_turns_between_students_and_the_hint_follows_the_turns(
        course_app, exercise_ids, tokens):
    client = course_app.test_client()
    exercise = exercise_ids[0]
    order = ["alice"] * 4 + ["bob"] + ["carol"] * 2  # alice floods first
    ids = [submit(client, exercise, tokens[name], notebook()).get_json()["id"]
           for name in order]
    owner = dict(zip(ids, order, strict=True))
    a1, a2, a3, a4, b1, c1, c2 = ids

    # Before anything runs, bob's only submission waits behind alice's first only.
    with course_app.app_context():
        ahead = {sid: queued_ahead(db.session, db.session.get(Submission, sid)) for sid in ids}
        db.session.remove()
    assert ahead == {a1: 0, b1: 1, c1: 2, a2: 3, c2: 4, a3: 5, a4: 6}

    # One worker, graded one after the other: the students take turns.
    taken = []
    for _ in ids:
        with course_app.app_context():
            claimed = claim_next(db.session, LEASE, attempts=3)
            db.session.remove()
        assert claimed is not None
        taken.append(claimed[0])
        _finish(course_app, claimed[0])
    assert [owner[sid] for sid in taken] == [
        "alice", "bob", "carol", "alice", "carol", "alice", "alice"]
    assert taken == sorted(ahead, key=ahead.get)


def test_a_student_with_a_running_submission_gets_no_second_worker(
        course_app, exercise_ids, tokens):
    client = course_app.test_client()
    for name in ("alice", "alice", "alice", "bob"):
        assert submit(client, exercise_ids[0], tokens[name], notebook()).status_code == 202
    users = _user_ids(course_app)
    claimed = []
    with course_app.app_context():
        while (found := claim_next(db.session, LEASE, attempts=3)) is not None:
            claimed.append(db.session.get(Submission, found[0]).user_id)
        db.session.remove()
    # Three idle workers asked: alice's first and bob's run; alice's others wait their turn.
    assert sorted(claimed) == sorted([users["alice"], users["bob"]])


ROUNDS = 3


def _claim_all(config: dict[str, Any], barrier: Any, results: Any, ids: list[int],
               first: bool) -> None:
    """A worker process: in each round, with the others at once, try to claim each of `ids`.

    The first worker reports which submissions ran after each round and queues them again.
    """
    from panlearn import create_app

    app = create_app(config)
    with app.app_context():
        db.session.scalar(select(Submission.id).limit(1))  # connected before the race starts
        db.session.commit()
        for _ in range(ROUNDS):
            barrier.wait(60)
            for submission_id in ids:
                claim(db.session, submission_id, LEASE, attempts=ROUNDS + 1)
            barrier.wait(60)
            if first:
                results.put(sorted(db.session.scalars(select(Submission.id).where(
                    Submission.state == SubmissionState.RUNNING))))
                db.session.execute(update(Submission).values(
                    state=SubmissionState.QUEUED, lease_expires_at=None))
                db.session.commit()
            barrier.wait(60)
        db.session.remove()
        db.engine.dispose()


def test_concurrent_workers_never_run_two_submissions_of_one_student(
        course_app, exercise_ids, tokens):
    client = course_app.test_client()
    alice = [submit(client, exercise_ids[0], tokens["alice"], notebook()).get_json()["id"]
             for _ in range(5)]
    bob = submit(client, exercise_ids[0], tokens["bob"], notebook()).get_json()["id"]
    context = multiprocessing.get_context("spawn")
    workers = len(alice)
    barrier, results = context.Barrier(workers), context.Queue()
    config = dict(course_app.config["PANLEARN"])
    # Each worker goes for a different one of alice's submissions first, at the same moment.
    processes_ = [context.Process(target=_claim_all, args=(
        config, barrier, results, alice[i:] + alice[:i] + [bob], i == 0))
        for i in range(workers)]
    for process in processes_:
        process.start()
    for process in processes_:
        process.join(120)
    assert [p.exitcode for p in processes_] == [0] * workers
    rounds = [results.get(timeout=5) for _ in range(ROUNDS)]
    for running in rounds:
        assert len(set(running) & set(alice)) == 1 and bob in running, rounds


# -- the cap on a student's queue ---------------------------------------------------------


def _second_exercise(app: Flask) -> tuple[int, bytes]:
    """Another exercise of the course and its (unanswered) student notebook."""
    client = app.test_client()
    lessons = [lesson for module in client.get("/api/courses/reading-nexus").get_json()["modules"]
               for lesson in module["lessons"] if lesson["exercise_id"]]
    lesson = next(item for item in lessons if item["slug"].startswith("06-"))
    source = nbformat.read(COURSE / "06-exercise-missing-external-link.ipynb", as_version=4)
    return lesson["exercise_id"], nbformat.writes(make_student_version(source)).encode()


def test_queued_submissions_are_capped_per_student_across_exercises(
        course_app, exercise_ids, tokens):
    course_app.config["PANLEARN"]["SUBMISSIONS_QUEUED_PER_STUDENT"] = 2
    client = course_app.test_client()
    other_exercise, other_notebook = _second_exercise(course_app)
    first = submit(client, exercise_ids[0], tokens["alice"], notebook())
    second = submit(client, other_exercise, tokens["alice"], other_notebook)
    assert (first.status_code, second.status_code) == (202, 202)

    refused = submit(client, exercise_ids[0], tokens["alice"], notebook())
    assert refused.status_code == 429, refused.get_json()
    assert refused.content_type == "application/problem+json"
    assert "2 submissions" in refused.get_json()["detail"]
    assert int(refused.headers["Retry-After"]) >= 1
    # The exercise page refuses the same way, and says when to come back.
    sign_in(client, "alice")
    lesson_id = next(lesson["id"] for module in
                     client.get("/api/courses/reading-nexus").get_json()["modules"]
                     for lesson in module["lessons"]
                     if lesson["exercise_id"] == exercise_ids[0])
    page = _post(client, lesson_id, nbformat.writes(notebook()).encode())
    assert page.status_code == 429 and int(page.headers["Retry-After"]) >= 1
    assert "2 submissions" in page.get_data(as_text=True)

    # Other students are not held back by alice's queue …
    assert submit(client, exercise_ids[0], tokens["bob"], notebook()).status_code == 202
    # … and alice may submit again once one of hers is graded.
    _finish(course_app, first.get_json()["id"])
    assert submit(client, exercise_ids[0], tokens["alice"], notebook()).status_code == 202
    assert len(rows(course_app)) == 4


# -- with real workers ---------------------------------------------------------------------


def _start_grading(mode: str, app: Flask, request: pytest.FixtureRequest) -> None:
    if mode == "local":
        request.getfixturevalue("local_workers")(2)
        return
    redis = request.getfixturevalue("redis_server")
    started = request.getfixturevalue("processes")
    app.config["PANLEARN"]["BROKER_URL"] = redis.url
    use_broker(app, redis.url)
    env = process_env(app, PANLEARN_GRADING_WORKERS="2", PANLEARN_BROKER_URL=redis.url,
                      PANLEARN_SUBMISSIONS_QUEUED_PER_STUDENT="100")
    started.start("worker", [sys.executable, "-m", "flask", "--app", "app", "worker"], env)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["local", "celery"])
def test_one_students_flood_does_not_hold_up_another_students_submission(
        mode, grading_app, exercise_ids, tokens, request):
    client = grading_app.test_client()
    exercise = exercise_ids[0]
    _start_grading(mode, grading_app, request)
    # The workers up and warm: carol's submission is graded first.
    warm = submit(client, exercise, tokens["carol"], notebook()).headers["Location"]
    assert wait_done(client, warm, tokens["carol"], timeout=120)["state"] == "graded"

    flood = [submit(client, exercise, tokens["alice"], sleeper(4)) for _ in range(3)]
    assert [r.status_code for r in flood] == [202] * 3
    flood_ids = [r.get_json()["id"] for r in flood]
    deadline = time.monotonic() + 60
    while not any(rows(grading_app)[sid].state == SubmissionState.RUNNING for sid in flood_ids):
        assert time.monotonic() < deadline, "alice's flood never started"
        time.sleep(0.05)
    bob = submit(client, exercise, tokens["bob"], notebook())
    body = wait_done(client, bob.headers["Location"], tokens["bob"])
    assert (body["state"], body["score"]) == ("graded", 3), body

    for response in flood:
        done = wait_done(client, response.headers["Location"], tokens["alice"], timeout=120)
        assert (done["state"], done["score"]) == ("graded", 3), done
    found = rows(grading_app)
    alice = sorted((found[sid] for sid in flood_ids), key=lambda s: s.started_at)
    bobs = found[bob.get_json()["id"]]
    print(f"\n{mode}: bob waited {(bobs.started_at - bobs.created_at).total_seconds():.2f} s "
          f"to start, {(bobs.finished_at - bobs.created_at).total_seconds():.2f} s to be "
          f"graded, while alice had {len(alice)} slow notebooks in")
    # Bob started while alice's first notebook was still running: no wait behind her queue.
    assert bobs.started_at < alice[0].finished_at
    # Alice's notebooks ran one at a time, never two workers at once.
    for earlier, later in zip(alice, alice[1:], strict=False):
        assert earlier.finished_at <= later.started_at

"""Load: a class of students browsing, searching and submitting, under gunicorn, on 127.0.0.1.

Usage:
    .venv/bin/python bench/load.py --mode local   # SQLite, the in-app local worker pool
    .venv/bin/python bench/load.py --mode scale   # PostgreSQL, Redis, Celery `flask worker`
    .venv/bin/python bench/load.py --students 10 --duration 30   # quick

What it does (everything on 127.0.0.1, in a temp dir removed at the end):

1. Set-up: an instance dir, `flask --app app setup` (the shipped courses imported and
   published; no reference grading at import unless `--validate`), N student accounts
   created with the accounts service, and the exercises' source notebooks read through the
   grading services (the reference solutions: a right answer) and their student versions
   (unanswered: a wrong answer, scored 0). In `scale` mode first a throwaway PostgreSQL
   cluster (initdb in the temp dir, a free port, as `.ci/run` does) and a redis-server on a
   free port, and grading on Celery workers (`flask --app app worker`) with
   PANLEARN_BROKER_URL; in `local` mode SQLite and the app's own local worker pool.
2. The app under gunicorn (`--web-workers` × `--threads`, gthread) on a free port; every
   course and lesson page is requested once, so the render cache is warm (the steady state
   of a site after its first visitors).
3. N student threads, each: log in (`POST /api/auth/token`), then for `--duration` seconds
   browse (`/`, a course page, a lesson page, `/api/courses`, `/api/lessons/<id>`), search
   (`/api/search?q=…`) and submit `--submissions` exercises (70 % reference solutions,
   30 % unanswered), spread over the window, polling their submissions until graded as a
   client honouring the API's `Retry-After` does. After the window the students only poll,
   for at most `--drain` seconds.
4. Checks in the database: every accepted submission is there, graded exactly once (one
   graded GradingRun), nothing lost; then one table of p50/p95 latencies per kind of
   request, 5xx and connection errors, and grading latency (server: created → finished;
   client: POST → first poll that sees it graded).

The PaNOSC API URL points at a closed port on 127.0.0.1 (nothing here needs it: exercise
data comes from PANLEARN_DATA_DIRS, ../shared/data/nexus and panosc, into the file cache).
Prints figures and `BENCH {json}` lines for `python -m bench`; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._net import free_port, wait_port  # noqa: E402

SHARED = Path(os.environ.get("PANLEARN_SHARED_DATA", ROOT.parent / "shared" / "data"))
PASSWORD = "load-test password, not a secret"
SEARCHES = ["diffraction", "nexus", "detector", "bragg peak", "tomography", "scattering",
            "d-spacing", "absorption edge", "guinier", "diffract*", "technique:SANS",
            "neutron time of flight", "flat field", "wavelength", "difraction"]
PAGE_KINDS = ("page /", "page /courses/<slug>", "page /lessons/<id>")
API_KINDS = ("api /api/courses", "api /api/lessons/<id>", "api /api/search")


def loadavg() -> str:
    return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def stop_process(process: subprocess.Popen, timeout: float = 15) -> None:
    """SIGTERM a process we started (its group, while its id is surely still ours), then
    SIGKILL what lingers; stragglers found beforehand are killed through psutil, which
    checks that each pid still names the same process."""
    import psutil

    try:
        family = psutil.Process(process.pid).children(recursive=True)
    except psutil.Error:
        family = []
    if process.poll() is None:  # not reaped: the process group id cannot have been reused
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    for child in family:  # grading workers, kernels
        try:
            child.kill()
        except psutil.Error:
            pass


# -- services: PostgreSQL and Redis, throwaway ------------------------------------------


class Postgres:
    """A throwaway cluster in a temp dir on a free port, like `.ci/run` (as `postgres` if root)."""

    def __init__(self, base: Path) -> None:
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                      key=lambda p: [int(x) for x in p.parent.name.split(".") if x.isdigit()])
        if not bins or not (bins[-1] / "initdb").exists():
            raise RuntimeError("PostgreSQL (initdb) is not installed")
        self.bin = bins[-1]
        self.dir = base / "pg"
        self.dir.mkdir()
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.dir, "postgres")
            os.chmod(base, 0o755)

    def _run(self, *argv: str) -> None:
        command = [str(self.bin / argv[0]), *argv[1:]]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start(self) -> str:
        self._run("initdb", "-D", str(self.dir / "data"), "-A", "trust", "-U", "postgres")
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-l", str(self.dir / "log"), "-w",
                  "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                  "-c max_connections=300 -c fsync=off", "start")
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                  "panlearn")
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/panlearn"

    def stop(self) -> None:
        for mode in ("fast", "immediate"):  # a busy machine may need more than 60 s
            try:
                self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", mode, "-t", "120",
                          "stop")
                return
            except (subprocess.CalledProcessError, OSError):
                continue


class Redis:
    """redis-server on a free port, no persistence."""

    def __init__(self, base: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        self.port = free_port()
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(base)],
            stdout=subprocess.DEVNULL, start_new_session=True)
        if not wait_port(self.port, 10, self.process):
            raise RuntimeError("redis-server did not start")
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        stop_process(self.process)


# -- the platform ---------------------------------------------------------------------------


@dataclass
class Exercise:
    exercise_id: int
    lesson_id: int
    course: str
    right: bytes  # the reference solution (the source notebook)
    wrong: bytes  # the student version, unanswered
    max_score: float = 0.0


@dataclass
class Catalogue:
    courses: list[str]
    lessons: list[int]
    exercises: list[Exercise]


def prepare(env: dict[str, str], students: int) -> Catalogue:
    """Students and the exercises' notebooks, through the services (in this process)."""
    import nbformat
    from sqlalchemy import select

    from panlearn import create_app
    from panlearn.accounts.service import create_user
    from panlearn.extensions import db
    from panlearn.grading.submissions import source_notebook
    from panlearn.models import Course, Lesson
    from panlearn.notebooks.student import make_student_version

    os.environ.update(env)
    app = create_app()
    with app.app_context():
        for index in range(students):
            create_user(db.session, f"student{index:03d}", PASSWORD, role="student")
        courses, lessons, exercises = [], [], []
        for course in db.session.scalars(select(Course).order_by(Course.slug)):
            courses.append(course.slug)
        for lesson in db.session.scalars(select(Lesson).order_by(Lesson.id)):
            lessons.append(lesson.id)
            exercise = lesson.exercise
            if exercise is None:
                continue
            source = source_notebook(exercise)
            student = make_student_version(source_notebook(exercise))
            slug = lesson.module.course_version.course.slug
            exercises.append(Exercise(exercise.id, lesson.id, slug,
                                      nbformat.writes(source).encode(),
                                      nbformat.writes(student).encode()))
        db.session.remove()
    return Catalogue(courses, lessons, exercises)


def db_report(env: dict[str, str], accepted: dict[int, str]) -> dict[str, Any]:
    """What the database holds: states, graded runs per submission, lost and duplicates."""
    from sqlalchemy import func, select

    from panlearn import create_app
    from panlearn.extensions import db
    from panlearn.models import GradingRun, Submission, SubmissionState

    os.environ.update(env)
    app = create_app()
    with app.app_context():
        rows = db.session.execute(select(Submission.id, Submission.state, Submission.score,
                                         Submission.max_score, Submission.attempts)).all()
        graded_runs = dict(db.session.execute(
            select(GradingRun.submission_id, func.count(GradingRun.id))
            .where(GradingRun.state == SubmissionState.GRADED)
            .group_by(GradingRun.submission_id)).all())
        failed_errors = db.session.scalars(select(GradingRun.error).where(
            GradingRun.state == SubmissionState.FAILED)).all()
        db.session.remove()
        db.engine.dispose()
    by_id = {row.id: row for row in rows}
    states: dict[str, int] = defaultdict(int)
    for row in rows:
        states[row.state.value] += 1
    graded = {sid for sid, row in by_id.items() if row.state == SubmissionState.GRADED}
    right_full = sum(1 for sid, kind in accepted.items() if kind == "right" and sid in graded
                     and by_id[sid].score == by_id[sid].max_score)
    wrong_zero = sum(1 for sid, kind in accepted.items() if kind == "wrong" and sid in graded
                     and by_id[sid].score == 0)
    return {
        "in_db": len(rows), "states": dict(states),
        "lost": sorted(set(accepted) - set(by_id)),
        "unexpected": sorted(set(by_id) - set(accepted)),
        "graded_once": sum(1 for sid in by_id if graded_runs.get(sid) == 1),
        "graded_more": sorted(sid for sid, n in graded_runs.items() if n > 1),
        "graded_state_without_run": sorted(
            sid for sid, row in by_id.items()
            if row.state == SubmissionState.GRADED and graded_runs.get(sid, 0) == 0),
        "failed_runs": len(failed_errors),
        "failed_reasons": Counter((error or "")[:160] for error in failed_errors).most_common(5),
        "retried": sum(1 for row in rows if (row.attempts or 0) > 1),
        "right": sum(1 for sid, kind in accepted.items() if kind == "right" and sid in graded),
        "right_full": right_full,
        "wrong": sum(1 for sid, kind in accepted.items() if kind == "wrong" and sid in graded),
        "wrong_zero": wrong_zero,
    }


# -- the students ---------------------------------------------------------------------------


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, dict[int, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    examples: list[str] = field(default_factory=list)
    accepted: dict[int, str] = field(default_factory=dict)  # submission id → right/wrong
    refused: int = 0
    submitted_at: dict[int, float] = field(default_factory=dict)
    seen_done: dict[int, float] = field(default_factory=dict)
    server_latency: dict[int, float] = field(default_factory=dict)
    final_state: dict[int, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind: str, seconds: float, status: int | None, detail: str = "") -> None:
        with self.lock:
            self.latencies[kind].append(seconds)
            if status is None:
                self.errors[kind] += 1
            else:
                self.statuses[kind][status] += 1
            if (status is None or status >= 500) and len(self.examples) < 8:
                self.examples.append(f"{kind}: {status or 'connection error'} {detail[:200]}")


class Student(threading.Thread):
    def __init__(self, index: int, base: str, catalogue: Catalogue, results: Results,
                 start_at: float, window: float, drain_until: float, submissions: int,
                 rng: random.Random) -> None:
        super().__init__(daemon=True, name=f"student{index:03d}")
        self.index, self.base, self.catalogue, self.results = index, base, catalogue, results
        self.start_at, self.window, self.drain_until = start_at, window, drain_until
        self.rng = rng
        self.http = requests.Session()
        exercises = catalogue.exercises
        self.plan = [(exercises[(index + k * 7) % len(exercises)],
                      "right" if rng.random() < 0.7 else "wrong") for k in range(submissions)]
        # Submission k falls at a random moment of the k-th slice of 85 % of the window.
        self.due = [start_at + window * 0.85 * (k + rng.random()) / submissions
                    for k in range(submissions)]
        self.pending: dict[int, str] = {}  # id → url
        #: When each pending submission is worth polling again (its last `Retry-After`).
        self.poll_at: dict[int, float] = {}

    def request(self, kind: str, method: str, path: str, **kwargs: Any) -> requests.Response | None:
        started = time.perf_counter()
        try:
            response = self.http.request(method, self.base + path, timeout=60, **kwargs)
        except requests.RequestException as error:
            self.results.record(kind, time.perf_counter() - started, None, repr(error))
            return None
        self.results.record(kind, time.perf_counter() - started, response.status_code,
                            response.text if response.status_code >= 500 else "")
        return response

    def login(self) -> bool:
        for _ in range(10):
            response = self.request("api POST /api/auth/token", "POST", "/api/auth/token",
                                    json={"username": f"student{self.index:03d}",
                                          "password": PASSWORD})
            if response is not None and response.status_code == 201:
                self.http.headers["Authorization"] = f"Bearer {response.json()['token']}"
                return True
            time.sleep(1 + self.rng.random())
        return False

    def browse(self) -> None:
        rng, catalogue = self.rng, self.catalogue
        action = rng.choice(["catalogue", "course", "lesson", "lesson", "api_courses",
                             "api_lesson", "search", "search"])
        if action == "catalogue":
            self.request("page /", "GET", "/")
        elif action == "course":
            self.request("page /courses/<slug>", "GET", f"/courses/{rng.choice(catalogue.courses)}")
        elif action == "lesson":
            self.request("page /lessons/<id>", "GET", f"/lessons/{rng.choice(catalogue.lessons)}")
        elif action == "api_courses":
            self.request("api /api/courses", "GET", "/api/courses")
        elif action == "api_lesson":
            self.request("api /api/lessons/<id>", "GET",
                         f"/api/lessons/{rng.choice(catalogue.lessons)}")
        else:
            self.request("api /api/search", "GET", "/api/search",
                         params={"q": rng.choice(SEARCHES)})

    def submit(self, exercise: Exercise, kind: str) -> None:
        body = exercise.right if kind == "right" else exercise.wrong
        posted = time.monotonic()
        response = self.request("api POST submission", "POST",
                                f"/api/exercises/{exercise.exercise_id}/submissions",
                                data=body, headers={"Content-Type": "application/json"})
        if response is None or response.status_code != 202:
            with self.results.lock:
                self.results.refused += 1
            return
        submission_id = response.json()["id"]
        with self.results.lock:
            self.results.accepted[submission_id] = kind
            self.results.submitted_at[submission_id] = posted
        self.pending[submission_id] = response.headers["Location"]
        self.poll_at[submission_id] = time.monotonic() + 1.0

    def next_poll(self) -> float:
        """When the earliest pending submission is worth polling (inf when none is)."""
        return min(self.poll_at.values(), default=float("inf"))

    def poll(self) -> None:
        """Poll the pending submissions that are due, as a client honouring Retry-After does."""
        for submission_id, url in list(self.pending.items()):
            if time.monotonic() < self.poll_at[submission_id]:
                continue
            response = self.request("api GET submission", "GET", url)
            self.poll_at[submission_id] = time.monotonic() + 1.0
            if response is None or response.status_code != 200:
                continue
            retry_after = response.headers.get("Retry-After", "")
            if retry_after.isdigit():
                self.poll_at[submission_id] = time.monotonic() + int(retry_after)
            body = response.json()
            if body["state"] in ("graded", "failed"):
                seen = time.monotonic()
                with self.results.lock:
                    self.results.seen_done[submission_id] = seen
                    self.results.final_state[submission_id] = body["state"]
                    if body.get("finished_at") and body.get("created_at"):
                        from datetime import datetime

                        created = datetime.fromisoformat(body["created_at"].replace("Z", "+00:00"))
                        finished = datetime.fromisoformat(
                            body["finished_at"].replace("Z", "+00:00"))
                        self.results.server_latency[submission_id] = (
                            finished - created).total_seconds()
                del self.pending[submission_id]
                del self.poll_at[submission_id]

    def run(self) -> None:
        time.sleep(self.rng.random() * 3)  # students do not all arrive in the same second
        if not self.login():
            return
        end = self.start_at + self.window
        while time.monotonic() < end:
            if self.plan and time.monotonic() >= self.due[0]:
                self.due.pop(0)
                self.submit(*self.plan.pop(0))
            else:
                self.browse()
            if time.monotonic() >= self.next_poll():
                self.poll()
            time.sleep(self.rng.uniform(1.0, 3.0))  # reading
        for exercise, kind in self.plan:  # late starters still hand in everything
            self.submit(exercise, kind)
        while self.pending and time.monotonic() < self.drain_until:
            time.sleep(max(0.05, min(self.next_poll(), self.drain_until) - time.monotonic()))
            self.poll()


# -- report ---------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def bench_line(name: str, value: float, unit: str, target: str | None = None,
               baseline: str | None = None) -> None:
    print("BENCH " + json.dumps({"name": name, "value": round(value, 4), "unit": unit,
                                 "target": target, "baseline": baseline}), flush=True)


def report(args: argparse.Namespace, results: Results, db: dict[str, Any],
           loads: list[float], elapsed: float, describe: str) -> None:
    print()
    print(f"panlearn load ({args.mode}): {args.students} students × {args.submissions} "
          f"submissions over {args.duration:.0f} s; {describe}")
    print(f"load average: start {loads[0]:.2f}, max during {max(loads):.2f}, "
          f"end {loads[-1]:.2f} (1-min, {os.cpu_count()} CPUs)")
    print()
    header = f"{'request':28}{'count':>7}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'5xx':>6}" \
             f"{'4xx':>6}{'conn err':>9}"
    print(header)
    print("-" * len(header))
    groups: dict[str, list[float]] = {"ALL pages": [], "ALL api (GET)": []}
    total_5xx = total_err = 0
    for kind in sorted(results.latencies):
        values = results.latencies[kind]
        statuses = results.statuses[kind]
        n5 = sum(n for s, n in statuses.items() if s >= 500)
        n4 = sum(n for s, n in statuses.items() if 400 <= s < 500)
        errors = results.errors[kind]
        total_5xx += n5
        total_err += errors
        if kind in PAGE_KINDS:
            groups["ALL pages"].extend(values)
        elif kind in API_KINDS or kind == "api GET submission":
            groups["ALL api (GET)"].extend(values)
        print(f"{kind:28}{len(values):>7}{pct(values, .5) * 1000:>9.0f}"
              f"{pct(values, .95) * 1000:>9.0f}{max(values) * 1000:>9.0f}{n5:>6}{n4:>6}"
              f"{errors:>9}")
    for name, values in groups.items():
        if values:
            print(f"{name:28}{len(values):>7}{pct(values, .5) * 1000:>9.0f}"
                  f"{pct(values, .95) * 1000:>9.0f}{max(values) * 1000:>9.0f}")
    print()
    server = list(results.server_latency.values())
    client = [results.seen_done[s] - results.submitted_at[s] for s in results.seen_done
              if s in results.submitted_at]
    if server:
        print(f"grading latency, server (created → finished): p50 {pct(server, .5):.1f} s, "
              f"p95 {pct(server, .95):.1f} s, max {max(server):.1f} s")
        # In order of arrival: the first submissions of each exercise environment meet
        # workers without its warm zygote yet; the rest show the steady state.
        ordered = [results.server_latency[s] for s in sorted(results.server_latency)]
        first, rest = ordered[:len(ordered) // 5], ordered[len(ordered) // 5:]
        if first and rest:
            print(f"  first fifth to arrive: p50 {pct(first, .5):.1f} s, p95 "
                  f"{pct(first, .95):.1f} s; the rest: p50 {pct(rest, .5):.1f} s, "
                  f"p95 {pct(rest, .95):.1f} s")
    if client:
        print(f"grading latency, client (POST → seen graded, polling per Retry-After): "
              f"p50 {pct(client, .5):.1f} s, p95 {pct(client, .95):.1f} s, "
              f"max {max(client):.1f} s")
    accepted = len(results.accepted)
    states = db["states"]
    graded = states.get("graded", 0)
    print(f"submissions: {accepted} accepted (202), {results.refused} refused; in the database "
          f"{db['in_db']} {states}")
    print(f"  graded exactly once (one graded GradingRun): {db['graded_once']}/{accepted}; "
          f"graded more than once: {len(db['graded_more'])}; graded without a run: "
          f"{len(db['graded_state_without_run'])}; lost: {len(db['lost'])}; "
          f"unexpected: {len(db['unexpected'])}")
    print(f"  of those graded: reference solutions with full marks {db['right_full']}/"
          f"{db['right']}, unanswered scored 0 {db['wrong_zero']}/{db['wrong']}; "
          f"retried: {db['retried']}; "
          f"failed runs recorded: {db['failed_runs']}")
    for reason, count in db["failed_reasons"]:
        print(f"    {count} × failed run: {reason}")
    not_done = accepted - graded - states.get("failed", 0)
    print(f"  not finished when the bench stopped waiting (still queued or running in the "
          f"database, not lost): {not_done}")
    print(f"  5xx: {total_5xx}; connection errors: {total_err}; wall time {elapsed:.0f} s; "
          f"graded/s over the run: {graded / elapsed:.2f}")
    for example in results.examples:
        print(f"  e.g. {example}")
    print()
    prefix = args.mode
    pages, api = groups["ALL pages"], groups["ALL api (GET)"]
    if pages:
        bench_line(f"{prefix}: page p95", pct(pages, .95) * 1000, "ms")
    if api:
        bench_line(f"{prefix}: api GET p95", pct(api, .95) * 1000, "ms")
    if server:
        bench_line(f"{prefix}: grading latency p50 (server)", pct(server, .5), "s")
        bench_line(f"{prefix}: grading latency p95 (server)", pct(server, .95), "s")
    bench_line(f"{prefix}: submissions graded exactly once", db["graded_once"], "count",
               target=f"{accepted} (all accepted)")
    bench_line(f"{prefix}: lost submissions (accepted, not in the database)", len(db["lost"]),
               "count", target="0")
    bench_line(f"{prefix}: not graded when the bench stopped waiting", not_done, "count",
               target="0")
    bench_line(f"{prefix}: 5xx responses", total_5xx, "count", target="0")


# -- main -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("local", "scale"), default="local")
    parser.add_argument("--students", type=int, default=50)
    parser.add_argument("--submissions", type=int, default=5, help="per student")
    parser.add_argument("--duration", type=float, default=120.0,
                        help="seconds of browsing and submitting")
    parser.add_argument("--drain", type=float, default=120.0,
                        help="most seconds to wait afterwards for grading to finish")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=8, help="threads per gunicorn worker")
    parser.add_argument("--graders", type=int, default=2,
                        help="grading processes: local workers in total, or Celery concurrency")
    parser.add_argument("--kernels", type=int, default=2, help="warm kernels per grading process")
    parser.add_argument("--validate", action="store_true",
                        help="grade reference solutions at import (slower set-up)")
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs)")
    args = parser.parse_args(argv)
    if args.mode == "local" and args.graders % args.web_workers:
        parser.error("--graders must be a multiple of --web-workers in local mode")

    for name in ("alembic", "papermill", "traitlets"):
        import logging

        logging.getLogger(name).setLevel(logging.WARNING)
    started = time.monotonic()
    loads = [os.getloadavg()[0]]
    log(f"load average {loadavg()}; mode {args.mode}")
    base = Path(tempfile.mkdtemp(prefix="panlearn-load-"))
    os.chmod(base, 0o755)
    instance = base / "instance"
    processes: list[subprocess.Popen] = []
    cleanups: list[Callable[[], None]] = []
    logs: dict[str, Path] = {}
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PANLEARN_")}
        env.update({
            "PANLEARN_INSTANCE_DIR": str(instance),
            "PANLEARN_SECRET_KEY": "load-bench-secret-key-not-for-production",
            "PANLEARN_COURSES_DIR": str(ROOT / "courses"),
            "PANLEARN_CONTENT_DIR": str(ROOT / "content"),
            "PANLEARN_DATA_DIRS": os.pathsep.join(str(SHARED / d) for d in ("nexus", "panosc")),
            "PANLEARN_PANOSC_URL": f"http://127.0.0.1:{free_port()}/api",  # loopback, closed
            "PANLEARN_PANOSC_RETRIES": "0",
            "PANLEARN_GRADING_VALIDATE": "true" if args.validate else "false",
            "PANLEARN_GRADING_KERNELS": str(args.kernels),
            "PANLEARN_LOGIN_RATE": "100000 per minute",
            "PANLEARN_SUBMISSIONS_PER_HOUR": "100000",
        })
        if args.mode == "scale":
            postgres = Postgres(base)
            env["PANLEARN_DATABASE_URL"] = postgres.start()
            cleanups.append(postgres.stop)
            redis = Redis(base)
            cleanups.append(redis.stop)
            env["PANLEARN_BROKER_URL"] = redis.url
            env["PANLEARN_GRADING_WORKERS"] = str(args.graders)
            describe = (f"PostgreSQL {postgres.bin.parent.name} on :{postgres.port}, "
                        f"redis-server on :{redis.port}, Celery worker concurrency "
                        f"{args.graders} × {args.kernels} warm kernels")
        else:
            env["PANLEARN_DATABASE_URL"] = f"sqlite:///{instance / 'panlearn.sqlite3'}"
            env["PANLEARN_GRADING_WORKERS"] = str(args.graders // args.web_workers)
            describe = (f"SQLite, local pool {args.graders // args.web_workers} grading "
                        f"process(es) per web worker × {args.kernels} warm kernels")
        describe = (f"gunicorn {args.web_workers} workers × {args.threads} threads (gthread); "
                    + describe)

        log("flask setup (migrations, shipped courses imported and published)")
        setup = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "setup"],
                               cwd=ROOT, env=env, capture_output=True, text=True)
        if setup.returncode != 0:
            print(setup.stdout[-3000:], setup.stderr[-3000:])
            raise SystemExit("flask setup failed")
        catalogue = prepare(env, args.students)
        log(f"{args.students} students, {len(catalogue.courses)} courses, "
            f"{len(catalogue.lessons)} lessons, {len(catalogue.exercises)} exercises")

        if args.mode == "scale":
            logs["celery"] = base / "celery.log"
            worker = subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "app", "worker"], cwd=ROOT, env=env,
                stdout=logs["celery"].open("w"), stderr=subprocess.STDOUT,
                start_new_session=True)
            processes.append(worker)

        port = free_port()
        logs["gunicorn"] = base / "gunicorn.log"
        gunicorn = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", str(args.web_workers),
             "--worker-class", "gthread", "--threads", str(args.threads),
             "--bind", f"127.0.0.1:{port}", "--timeout", "120", "--graceful-timeout", "20",
             # Longer than the students' pauses (as behind a reverse proxy), so a reused
             # keep-alive connection is not closed under a request being sent.
             "--keep-alive", "30",
             "--log-level", "warning", "app:create_app()"],
            cwd=ROOT, env=env, stdout=logs["gunicorn"].open("w"), stderr=subprocess.STDOUT,
            start_new_session=True)
        processes.append(gunicorn)
        if not wait_port(port, 60, gunicorn):
            print(logs["gunicorn"].read_text()[-3000:])
            raise SystemExit("gunicorn did not start")
        base_url = f"http://127.0.0.1:{port}"
        # Warm up: each worker's first request starts its grading pool.
        for _ in range(args.web_workers * 4):
            requests.get(base_url + "/healthz", timeout=30)
        log(f"gunicorn on {base_url}; load average {loadavg()}")
        # Pages are rendered once and cached (as after the first visitors of a real site):
        # fill the render cache, so the figures are of the steady state.
        started_warm = time.monotonic()
        for path in ([f"/courses/{slug}" for slug in catalogue.courses]
                     + [f"/lessons/{lesson}" for lesson in catalogue.lessons]):
            requests.get(base_url + path, timeout=120)
        log(f"render cache filled: {len(catalogue.courses) + len(catalogue.lessons)} pages in "
            f"{time.monotonic() - started_warm:.0f} s")

        results = Results()
        rng = random.Random(args.seed)
        start_at = time.monotonic() + 1
        drain_until = start_at + args.duration + args.drain
        students = [Student(i, base_url, catalogue, results, start_at, args.duration,
                            drain_until, args.submissions, random.Random(rng.random()))
                    for i in range(args.students)]
        for student in students:
            student.start()
        last = 0.0
        while any(s.is_alive() for s in students):
            time.sleep(1)
            loads.append(os.getloadavg()[0])
            if time.monotonic() - last >= 15:
                last = time.monotonic()
                with results.lock:
                    accepted, done = len(results.accepted), len(results.seen_done)
                log(f"{accepted} submitted, {done} seen graded; load average {loadavg()}")
        for student in students:
            student.join(timeout=5)
        loads.append(os.getloadavg()[0])
        elapsed = time.monotonic() - start_at
        db = db_report(env, dict(results.accepted))
        report(args, results, db, loads, elapsed, describe)
        log(f"total wall time {time.monotonic() - started:.0f} s")
    finally:
        for process in reversed(processes):
            stop_process(process)
        for cleanup in reversed(cleanups):
            cleanup()
        if args.keep:
            print(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()

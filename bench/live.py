"""Live-run figures, as issue 15 names them: cells run from the exercise page, on the real app.

Run: .venv/bin/python bench/live.py [--runs 5] [--students 20] [--rounds 5] [--checks 10]
     .venv/bin/python bench/live.py --quick

What it does, in one process and one run (the machine may be shared: the load
average is printed beside each figure):

1. A real app: `create_app` on a temp instance dir and SQLite, every shipped
   course imported and published, students with API tokens, werkzeug's
   threaded server on 127.0.0.1, the app's own `LocalDispatcher`
   (`--workers` grading processes, `--kernels` warm sandboxed kernels each),
   live runs limited to 10 s as by default.
2. Per shipped exercise, a typical cell: the first answer cell with the
   author's solution typed in (so it computes on the real data file, with the
   cells above it re-run as the stateless design does). After two runs (the
   workers' kernels then preload what the exercise imports, as they do for a
   class working on it), each is run `--runs` times, 0.3 s apart:
   `POST /api/exercises/<id>/runs` → outputs, the median client-observed, and
   the server's own `ms` and the worker's phases.
3. A class: `--students` learners press Shift-Enter at the same moment
   (a barrier), `--rounds` times, on the NeXus exercise; every latency, p50 and
   p95, client-observed. This is the harshest reading of "20 students running
   cells at once": all 20 runs queue for the workers together. A steadier
   class (each learner runs a cell every 2–6 s for `--duration` s) is timed too.
4. Memory during the class: RSS and PSS of the app, its workers and every
   sandbox, sampled every 50 ms while the 20 runs go; the peak is printed.
5. "Check my work" → inline results: the page's own path (POST the notebook to
   the submissions API, then GET it every 150 ms until graded), `--checks`
   times, median.

Prints figures (and `BENCH {json}` lines for `python -m bench`); asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import nbformat
import psutil
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._cpu import CpuMeter  # noqa: E402

SHARED = Path(os.environ.get("PANLEARN_SHARED_DATA", ROOT.parent / "shared" / "data"))
PASSWORD = "bench password, not secret"
NEXUS_EXERCISE = "03-exercise-peak-to-d-spacing"


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def bench_line(name: str, value: float, unit: str, target: str | None = None) -> None:
    body: dict[str, Any] = {"name": f"live: {name}", "value": round(value, 1), "unit": unit}
    if target:
        body["target"] = target
    print("BENCH " + json.dumps(body, ensure_ascii=False), flush=True)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


# -- the site --------------------------------------------------------------------------------


def build_app(instance: Path, workers: int, kernels: int, students: int) -> Any:
    """The real app on a fresh SQLite database, every shipped course published."""
    from flask_migrate import upgrade

    from panlearn import create_app
    from panlearn.accounts.service import create_user
    from panlearn.authoring.folder import load_course_folders
    from panlearn.authoring.service import import_courses
    from panlearn.extensions import db
    from panlearn.organisations import load_organisations_file, sync_organisations

    app = create_app({
        "INSTANCE_DIR": str(instance), "DATABASE_URL": f"sqlite:///{instance / 'bench.sqlite3'}",
        "COURSES_DIR": str(ROOT / "courses"), "CONTENT_DIR": str(ROOT / "content"),
        "DATA_DIRS": [str(SHARED / "nexus"), str(SHARED / "panosc")],
        "GRADING_WORKERS": workers, "GRADING_KERNELS": kernels, "GRADING_VALIDATE": False,
        "SUBMISSIONS_PER_HOUR": 100_000, "SUBMISSIONS_QUEUED_PER_STUDENT": 100_000,
        "LIVE_RUN_RATE": "100000 per minute", "LIVE_DRAFT_RATE": "100000 per minute",
        "LOGIN_RATE": "100000 per minute",
        "LOG_LEVEL": "WARNING",
    })
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"), revision="heads")
        sync_organisations(db.session, load_organisations_file(ROOT / "content" /
                                                               "organisations.yml"))
        for name in ["student", *(f"student-{i}" for i in range(students))]:
            create_user(db.session, name, PASSWORD, role="student")
        import_courses(db.session, load_course_folders(ROOT / "courses"), publish=True)
        db.session.remove()
    return app


class Server:
    """The app on 127.0.0.1 (werkzeug, threaded) in a background thread."""

    def __init__(self, app: Any) -> None:
        from werkzeug.serving import make_server

        self.httpd = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()


class Learner:
    """A learner talking to the API as the live page does."""

    def __init__(self, url: str, username: str) -> None:
        self.url = url
        self.http = requests.Session()
        token = self.http.post(f"{url}/api/auth/token",
                               json={"username": username, "password": PASSWORD}).json()["token"]
        self.http.headers["Authorization"] = f"Bearer {token}"

    def run(self, exercise_id: int, notebook: Any, cell: str) -> tuple[float, dict[str, Any]]:
        """(seconds POST → outputs, the answer)."""
        started = time.perf_counter()
        response = self.http.post(f"{self.url}/api/exercises/{exercise_id}/runs",
                                  json={"notebook": notebook, "cell": cell})
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise RuntimeError(f"run answered {response.status_code}: {response.text[:300]}")
        return elapsed, response.json()

    def check(self, exercise_id: int, notebook: Any) -> tuple[float, dict[str, Any]]:
        """(seconds from "Check my work" to the results, polled as the page does)."""
        started = time.perf_counter()
        response = self.http.post(f"{self.url}/api/exercises/{exercise_id}/submissions",
                                  json=notebook)
        if response.status_code != 202:
            raise RuntimeError(f"submission answered {response.status_code}: {response.text}")
        url = self.url + response.json()["url"]
        while True:
            time.sleep(0.15)
            body = self.http.get(url).json()
            if body["state"] in ("graded", "failed"):
                return time.perf_counter() - started, body


def exercises(url: str) -> list[dict[str, Any]]:
    """Every shipped exercise: its id, notebook and a typical cell with the solution typed in."""
    from panlearn.grading.core import nbgrader
    from panlearn.notebooks.student import make_student_version

    found = []
    for course in requests.get(f"{url}/api/courses?per_page=100").json()["items"]:
        detail = requests.get(f"{url}/api/courses/{course['slug']}").json()
        for module in detail["modules"]:
            for lesson in module["lessons"]:
                if not lesson["exercise_id"]:
                    continue
                path = ROOT / "courses" / course["slug"] / f"{lesson['slug']}.ipynb"
                if not path.exists():
                    path = next((ROOT / "courses" / course["slug"]).glob(
                        f"{lesson['slug']}*.ipynb"))
                source = nbformat.read(path, as_version=4)
                student = json.loads(nbformat.writes(make_student_version(source)))
                solutions = {c["id"]: c["source"] for c in source.cells
                             if c.get("cell_type") == "code" and nbgrader.is_solution_cell(c)}
                cell = next(iter(solutions), None)
                if cell is None:
                    continue  # answered in markdown or quizzes only: nothing to run
                for item in student["cells"]:
                    if item["id"] in solutions:
                        item["source"] = "\n".join(
                            line for line in solutions[item["id"]].splitlines()
                            if "BEGIN SOLUTION" not in line and "END SOLUTION" not in line)
                found.append({"name": f"{course['slug']}/{lesson['slug']}",
                              "exercise_id": lesson["exercise_id"], "notebook": student,
                              "cell": cell})
    return found


# -- measurements ----------------------------------------------------------------------------


def per_exercise(learner: Learner, found: list[dict[str, Any]], runs: int) -> None:
    print(f"\n1. A typical cell of each shipped exercise, {runs} runs each, one at a time "
          f"({load()})")
    print(f"   {'exercise':58} {'median':>8} {'min':>7} {'server':>7} {'execute':>8}  status")
    medians = []
    for item in found:
        times, server, execute, status = [], [], [], ""
        # A class works on one exercise: the pools' kernels follow it (they preload what it
        # imports). Two runs to get there, then a learner's pace (a few tenths between runs).
        for _ in range(2):
            learner.run(item["exercise_id"], item["notebook"], item["cell"])
        time.sleep(1.0)
        for _ in range(runs):
            time.sleep(0.3)
            elapsed, body = learner.run(item["exercise_id"], item["notebook"], item["cell"])
            times.append(elapsed)
            server.append(body["ms"] / 1000)
            execute.append(body["timings"].get("execute", 0))
            status = body["status"]
        median = statistics.median(times)
        medians.append(median)
        print(f"   {item['name'][:58]:58} {median * 1000:6.0f} ms {min(times) * 1000:5.0f} ms "
              f"{statistics.median(server) * 1000:5.0f} ms {statistics.median(execute) * 1000:6.0f}"
              f" ms  {status}")
        bench_line(f"run of a typical cell, {item['name']}, median", median * 1000, "ms")
    print(f"   all exercises: median of medians {statistics.median(medians) * 1000:.0f} ms, "
          f"slowest {max(medians) * 1000:.0f} ms")


class MemorySampler:
    """Peak RSS and PSS of this process tree (app, workers, sandboxes), sampled."""

    def __init__(self, period: float = 0.05) -> None:
        self.period, self.peak = period, (0, 0, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(self.period):
            rss = pss = count = 0
            for process in [me, *me.children(recursive=True)]:
                try:
                    info = process.memory_full_info()
                except psutil.Error:
                    continue
                rss, pss, count = rss + info.rss, pss + getattr(info, "pss", info.rss), count + 1
            if pss > self.peak[1]:
                self.peak = (rss, pss, count)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def class_at_once(url: str, item: dict[str, Any], students: int, rounds: int) -> None:
    print(f"\n2. {students} learners press Shift-Enter at the same moment, {rounds} rounds "
          f"({load()})")
    learners = [Learner(url, f"student-{i}") for i in range(students)]
    barrier = threading.Barrier(students)
    latencies: list[float] = []
    errors: list[str] = []

    client_cpu: list[float] = []

    def learner_loop(learner: Learner) -> None:
        for _ in range(rounds):
            barrier.wait()
            started = time.thread_time()
            try:
                elapsed, _ = learner.run(item["exercise_id"], item["notebook"], item["cell"])
                latencies.append(elapsed)
            except Exception as error:  # noqa: BLE001 - a figure, reported below
                errors.append(str(error)[:120])
            client_cpu.append(time.thread_time() - started)
            time.sleep(1.0)

    threads = [threading.Thread(target=learner_loop, args=(learner,)) for learner in learners]
    with MemorySampler() as memory, CpuMeter() as cpu:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    p50, p95 = pct(latencies, 0.5) * 1000, pct(latencies, 0.95) * 1000
    # The learners are threads of this process: their own CPU (HTTP, JSON) is left out.
    per_run = (cpu.used() - sum(client_cpu)) / max(1, len(latencies))
    print(f"   {len(latencies)} runs, {len(errors)} errors: p50 {p50:.0f} ms, p95 {p95:.0f} ms, "
          f"max {max(latencies) * 1000:.0f} ms")
    print(f"   CPU per run, app + workers + sandboxes (sampled; the bench's clients left out): "
          f"{per_run * 1000:.0f} ms; so {students} runs at once need at least "
          f"{students * per_run / (os.cpu_count() or 1):.2f} s on {os.cpu_count()} idle cores")
    for error in errors[:3]:
        print(f"   error: {error}")
    rss, pss, count = memory.peak
    print(f"   memory at the peak: {count} processes, RSS {rss / 2**30:.2f} GiB, "
          f"PSS {pss / 2**30:.2f} GiB (app + workers + sandboxes)")
    bench_line(f"{students} learners at once, p95", p95, "ms", "<= 1000")
    bench_line(f"{students} learners at once, p50", p50, "ms")
    bench_line(f"memory of {students} concurrent learners' runs (PSS peak)", pss / 2**20, "MiB")
    bench_line("CPU per run (app + workers + sandboxes)", per_run * 1000, "ms")


def class_steady(url: str, item: dict[str, Any], students: int, duration: float) -> None:
    print(f"\n3. {students} learners each run a cell every 2–6 s for {duration:.0f} s "
          f"({load()})")
    learners = [Learner(url, f"student-{i}") for i in range(students)]
    latencies: list[float] = []
    stop = time.monotonic() + duration

    def learner_loop(learner: Learner, seed: int) -> None:
        chance = random.Random(seed)
        time.sleep(chance.uniform(0, 4))
        while time.monotonic() < stop:
            elapsed, _ = learner.run(item["exercise_id"], item["notebook"], item["cell"])
            latencies.append(elapsed)
            time.sleep(chance.uniform(2, 6))

    threads = [threading.Thread(target=learner_loop, args=(learner, i))
               for i, learner in enumerate(learners)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    p50, p95 = pct(latencies, 0.5) * 1000, pct(latencies, 0.95) * 1000
    print(f"   {len(latencies)} runs: p50 {p50:.0f} ms, p95 {p95:.0f} ms")
    bench_line(f"{students} learners, a run every 2-6 s each, p95", p95, "ms")


def checks(learner: Learner, item: dict[str, Any], count: int) -> None:
    print(f"\n4. \"Check my work\" → inline results, {count} times ({load()})")
    times = []
    for _ in range(count):
        elapsed, body = learner.check(item["exercise_id"], item["notebook"])
        times.append(elapsed)
    median = statistics.median(times) * 1000
    print(f"   median {median:.0f} ms, min {min(times) * 1000:.0f} ms, "
          f"max {max(times) * 1000:.0f} ms (last: {body['state']}, "
          f"{body['score']:g}/{body['max_score']:g})")
    bench_line("Check my work → inline results, median", median, "ms", "<= 1000")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per shipped exercise")
    parser.add_argument("--students", type=int, default=20, help="learners at once")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of the class at once")
    parser.add_argument("--duration", type=float, default=40.0, help="seconds of the steady class")
    parser.add_argument("--checks", type=int, default=10, help="'Check my work' timed")
    parser.add_argument("--workers", type=int, default=2, help="PANLEARN_GRADING_WORKERS")
    parser.add_argument("--kernels", type=int, default=2, help="PANLEARN_GRADING_KERNELS")
    parser.add_argument("--quick", action="store_true", help="fewer runs (python -m bench)")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.rounds, args.duration, args.checks = 3, 3, 20.0, 5
    for name in ("werkzeug", "papermill", "traitlets", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)

    print(f"panlearn live-run bench: {load()}, Python {sys.version.split()[0]}")
    app = build_app(Path(tempfile.mkdtemp(prefix="panlearn-bench-live-")), args.workers,
                    args.kernels, args.students)
    server = Server(app)
    try:
        learner = Learner(server.url, "student")
        found = exercises(server.url)
        nexus = next(item for item in found if item["name"].endswith(NEXUS_EXERCISE))
        started = time.perf_counter()
        for item in found:  # starts the workers, their zygotes and kernels; warms caches
            learner.run(item["exercise_id"], item["notebook"], item["cell"])
        print(f"app: {args.workers} workers × {args.kernels} warm kernels; {len(found)} "
              f"exercises warmed in {time.perf_counter() - started:.1f} s")
        per_exercise(learner, found, args.runs)
        class_at_once(server.url, nexus, args.students, args.rounds)
        class_steady(server.url, nexus, args.students, args.duration)
        checks(learner, nexus, args.checks)
    finally:
        server.close()
        from panlearn.wiring import services_of

        services_of(app).dispatcher.stop()
    print(f"\ndone ({load()})")


if __name__ == "__main__":
    main()

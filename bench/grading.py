"""Grading figures, as issue 5 names them: latency, throughput and memory of the real app.

Run: .venv/bin/python bench/grading.py [--n 100] [--latency 15] [--workers 2] [--kernels 2]

What it does, in one process and one run (the machine may be shared: every
figure that is compared is measured in the same run, interleaved, and the load
average is printed next to it):

1. A real app: `create_app` on a temp instance dir and SQLite, migrations, the
   shipped course `courses/reading-nexus` imported with `panlearn.authoring`
   and published, a student with an API token. It is served over HTTP on
   127.0.0.1 by werkzeug's threaded server; grading runs in the app's own
   `LocalDispatcher` (`GRADING_WORKERS` worker processes, `GRADING_KERNELS`
   warm sandboxed kernels each).
2. Latency: the exercise `03-exercise-peak-to-d-spacing.ipynb` answered
   correctly, on the real NeXus file `nexus/dmc01.h5`. Each submission is timed
   from `POST /api/exercises/<id>/submissions` to `graded`, client-observed
   (polling `GET /api/submissions/<id>` every few ms) and server-side
   (`created_at` → `finished_at`), with the pool warm (the bench waits until
   the workers are idle). Interleaved with plain `papermill.execute_notebook`
   runs of the same notebook (a new kernel each, no sandbox, no checks), and
   the ratio of the medians is printed.
3. Throughput: `--n` submissions posted back to back by a few client threads,
   each a student of its own (a student gets one worker at a time), each
   graded on a fresh sandboxed kernel; sustained rate from the first POST
   to the last `graded`, states counted (none lost), and the CPU seconds the
   app, its workers and every sandbox used per submission (sampled from
   /proc), which says what the same code does on 2 idle cores.
4. Memory: RSS (and PSS, which counts shared pages once) of the app process,
   its worker processes and their warm sandboxes, once the pools are full.
5. `--core`: the grading core alone (`grade_notebook` on an in-process warm
   pool, with the spec and the author's reference values computed once, as a
   worker caches them) with its phases, for profiling.

Prints figures; asserts nothing (benches are not tests).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import nbformat
import papermill
import psutil
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._cpu import CpuMeter, tree  # noqa: E402

SHARED = Path(os.environ.get("PANLEARN_SHARED_DATA", ROOT.parent / "shared" / "data"))
DATA = SHARED / "nexus" / "dmc01.h5"
COURSE = ROOT / "courses" / "reading-nexus"
EXERCISE = COURSE / "03-exercise-peak-to-d-spacing.ipynb"
PASSWORD = "bench password, not secret"
#: Students the throughput posters submit as (the queue gives each one worker at a time).
CLASS_SIZE = 32


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def answered_notebook() -> nbformat.NotebookNode:
    """The student version of the exercise with both answers written in."""
    from panlearn.notebooks.student import make_student_version

    notebook = make_student_version(nbformat.read(EXERCISE, as_version=4))
    answers = iter(
        [
            "peak_two_theta = float(two_theta[np.argmax(counts)])",
            "d_spacing = wavelength / (2 * np.sin(np.radians(peak_two_theta / 2)))",
        ]
    )
    for cell in notebook.cells:
        if "raise NotImplementedError()" in cell.source:
            cell.source = next(answers)
    return notebook


# -- the app ---------------------------------------------------------------------


def build_app(instance: Path, workers: int, kernels: int, wal: bool = False) -> Any:
    """The real app on a fresh SQLite database, with the shipped course published."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from panlearn import create_app
    from panlearn.accounts.service import create_user
    from panlearn.authoring.folder import load_course_folders
    from panlearn.authoring.service import import_courses
    from panlearn.extensions import db
    from panlearn.models import Organisation

    app = create_app(
        {
            "INSTANCE_DIR": str(instance),
            "DATABASE_URL": f"sqlite:///{instance / 'bench.sqlite3'}",
            "COURSES_DIR": str(ROOT / "courses"),
            "CONTENT_DIR": str(ROOT / "content"),
            "DATA_DIRS": [str(SHARED / "nexus")],
            "GRADING_WORKERS": workers,
            "GRADING_KERNELS": kernels,
            # The reference run at import is not what we measure here.
            "GRADING_VALIDATE": False,
            "SUBMISSIONS_PER_HOUR": 100_000,
            "SUBMISSIONS_QUEUED_PER_STUDENT": 100_000,
        }
    )
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"), revision="heads")
        if wal:  # a property of the database file: every connection then uses it
            db.session.execute(text("PRAGMA journal_mode=WAL"))
            db.session.commit()
        db.session.add(Organisation(slug="psi", name="PSI"))
        db.session.commit()
        # A class: the throughput posters are students of their own (one running each).
        for name in ["student", *(f"student-{i}" for i in range(CLASS_SIZE))]:
            create_user(db.session, name, PASSWORD, role="student")
        import_courses(db.session, load_course_folders(COURSE), publish=True)
        db.session.remove()
    return app


class Server:
    """The app on 127.0.0.1 (werkzeug, threaded) in a background thread."""

    def __init__(self, app: Any) -> None:
        from werkzeug.serving import make_server

        self.httpd = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()


class Client:
    """A student talking to the API over HTTP."""

    def __init__(self, url: str, username: str = "student") -> None:
        self.url = url
        self.http = requests.Session()
        token = self.http.post(
            f"{url}/api/auth/token", json={"username": username, "password": PASSWORD}
        ).json()["token"]
        self.http.headers["Authorization"] = f"Bearer {token}"
        course = self.http.get(f"{url}/api/courses/reading-nexus").json()
        self.exercise_id = next(
            lesson["exercise_id"]
            for module in course["modules"]
            for lesson in module["lessons"]
            if lesson.get("exercise_id")
        )

    def submit(self, body: bytes) -> str:
        response = self.http.post(
            f"{self.url}/api/exercises/{self.exercise_id}/submissions",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        if response.status_code != 202:
            raise RuntimeError(f"POST answered {response.status_code}: {response.text[:300]}")
        return self.url + response.headers["Location"]

    def state(self, url: str) -> dict[str, Any]:
        return self.http.get(url).json()

    #: Seconds between two polls of a submission's state.
    poll = 0.01

    def wait(self, url: str, interval: float | None = None, timeout: float = 300) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            body = self.state(url)
            if body["state"] in ("graded", "failed"):
                return body
            time.sleep(self.poll if interval is None else interval)
        raise RuntimeError(f"{url} not graded within {timeout} s")


# -- processes ---------------------------------------------------------------------


def wait_quiet(threshold: float = 0.06, window: float = 0.25, timeout: float = 30.0) -> float:
    """Wait until the app's processes are idle (pools refilled); returns the seconds waited."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        procs = tree()[1:]
        before = {}
        for p in procs:
            try:
                t = p.cpu_times()
                before[p.pid] = t.user + t.system
            except psutil.Error:
                pass
        time.sleep(window)
        used = 0.0
        for p in procs:
            try:
                t = p.cpu_times()
                used += t.user + t.system - before.get(p.pid, t.user + t.system)
            except psutil.Error:
                pass
        if used / window < threshold:
            break
    return time.monotonic() - start


def memory() -> dict[str, tuple[int, int, int]]:
    """(processes, RSS, PSS) by role: app, workers, zygotes, kernels and checks they forked."""
    roles: dict[str, list[int]] = {}
    for p in tree():
        try:
            cmd = " ".join(p.cmdline())
            info = p.memory_full_info()
            parent = " ".join(p.parent().cmdline()) if p.parent() else ""
        except psutil.Error:
            continue
        if p.pid == os.getpid():
            role = "app (HTTP server)"
        elif "panlearn.grading.core.zygote" in cmd:
            # The zygote's children keep its command line: a fork is a sandbox.
            role = ("zygotes" if "panlearn.grading.core.zygote" not in parent
                    else "forked sandboxes (jobs)")
        elif p.name() in {"bwrap", "nice", "setpriv", "prlimit"}:
            role = "sandbox wrappers (bwrap)"
        elif "panlearn.grading.core.inside" in cmd:
            role = "bubblewrap sandboxes (jobs)"
        elif "multiprocessing" in cmd:
            role = "grading workers"
        else:
            role = "other"
        rss, pss, n = roles.get(role, [0, 0, 0])
        roles[role] = [rss + info.rss, pss + getattr(info, "pss", info.rss), n + 1]
    return {k: (v[2], v[0], v[1]) for k, v in roles.items()}


# -- measurements ----------------------------------------------------------------------


def plain_papermill() -> float:
    t = time.perf_counter()
    papermill.execute_notebook(
        str(EXERCISE),
        None,
        parameters={"data_file": str(DATA)},
        kernel_name="python3",
        progress_bar=False,
        request_save_on_cell_execute=False,
        log_output=False,
    )
    return time.perf_counter() - t


def iso(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def worker_breakdown(app: Any, ids: list[int]) -> str:
    """Where the server-side time goes, from the database's own timestamps."""
    from panlearn.extensions import db
    from panlearn.models import Submission

    wake, worker = [], []
    with app.app_context():
        for submission in db.session.query(Submission).filter(Submission.id.in_(ids)):
            run = submission.runs[-1]
            wake.append((submission.started_at - submission.created_at).total_seconds())
            worker.append(
                (submission.finished_at - submission.started_at).total_seconds()
                - run.timings["total"]
            )
        db.session.remove()
    return (
        f"created_at → claimed by a worker (commit, wake-up, claim) median "
        f"{ms(statistics.median(wake))}; claimed → finished minus grade_notebook (loads, "
        f"datasets, recording) median {ms(statistics.median(worker))}"
    )


def latency(app: Any, client: Client, body: bytes, runs: int, plain_runs: int) -> None:
    ours_client, ours_server, plain, phases = [], [], [], {}
    loads, posts, ids = [], [], []
    for i in range(runs):
        if i < plain_runs:
            plain.append(plain_papermill())
        wait_quiet()
        loads.append(os.getloadavg()[0])
        t = time.perf_counter()
        url = client.submit(body)
        posts.append(time.perf_counter() - t)
        result = client.wait(url)
        ours_client.append(time.perf_counter() - t)
        ids.append(result["id"])
        if result["state"] != "graded" or result["score"] != result["max_score"]:
            print(f"  !! submission {url}: {result['state']} {result.get('score')}")
        ours_server.append((iso(result["finished_at"]) - iso(result["created_at"])).total_seconds())
        for key, value in (result.get("timings") or {}).items():
            phases.setdefault(key, []).append(value)
    med_plain = statistics.median(plain)
    med_client, med_server = statistics.median(ours_client), statistics.median(ours_server)
    print(f"\nLatency ({runs} submissions, one at a time, warm pool; {load()}):")
    print(
        f"  plain papermill.execute_notebook, same notebook and file: median {ms(med_plain)} "
        f"(min {ms(min(plain))}, max {ms(max(plain))}, {len(plain)} runs, interleaved)"
    )
    print(
        f"  POST → graded, client-observed (HTTP, polling every {ms(client.poll)}): "
        f"median {ms(med_client)} "
        f"(min {ms(min(ours_client))}, max {ms(max(ours_client))})  "
        f"→ {med_plain / med_client:.1f}× faster than plain papermill"
    )
    print(
        f"  POST → graded, server-side (created_at → finished_at): median {ms(med_server)}  "
        f"→ {med_plain / med_server:.1f}× faster"
    )
    print(
        "  grading phases inside the worker (median ms): "
        + ", ".join(f"{k} {statistics.median(v) * 1000:.1f}" for k, v in phases.items())
    )
    print(f"  POST answered (202) after median {ms(statistics.median(posts))}")
    print(f"  {worker_breakdown(app, ids)}")
    print(f"  1-min load average during the runs: median {statistics.median(loads):.2f}")


def throughput(client: Client, body: bytes, n: int, threads: int) -> None:
    wait_quiet()
    urls: list[tuple[Client, str]] = []  # who posted it (only they may read it), where
    lock = threading.Lock()
    todo = iter(range(n))
    errors: list[str] = []

    def post_many(c: Client) -> None:
        while True:
            with lock:
                if next(todo, None) is None:
                    return
            try:
                url = c.submit(body)
            except Exception as exc:  # a refused POST is a lost submission: count it
                errors.append(str(exc))
                continue
            with lock:
                urls.append((c, url))

    load_before = os.getloadavg()[0]
    # One student per thread: the queue gives each student one worker at a time.
    students = [Client(client.url, f"student-{i % CLASS_SIZE}") for i in range(threads)]
    with CpuMeter() as sampler:
        t0 = time.perf_counter()
        posters = [threading.Thread(target=post_many, args=(c,)) for c in students]
        for p in posters:
            p.start()
        for p in posters:
            p.join()
        posted = time.perf_counter() - t0
        results = [owner.wait(url, interval=0.05, timeout=900) for owner, url in urls]
        elapsed = time.perf_counter() - t0
    states: dict[str, int] = {}
    for r in results:
        states[r["state"]] = states.get(r["state"], 0) + 1
    full = sum(1 for r in results if r["state"] == "graded" and r["score"] == r["max_score"])
    first = min(iso(r["created_at"]) for r in results)
    last = max(iso(r["finished_at"]) for r in results if r["finished_at"])
    server = (last - first).total_seconds()
    cpu = sampler.used()
    print(f"\nThroughput ({n} submissions through the API, {threads} client threads):")
    print(f"  posted in {posted:.1f} s; {errors and len(errors) or 0} POSTs refused")
    print(
        f"  all graded after {elapsed:.1f} s: {n / elapsed:.2f}/s client-observed; "
        f"first created_at → last finished_at {server:.1f} s: {len(results) / server:.2f}/s"
    )
    print(f"  states: {states}; full marks: {full}/{n}; lost: {n - len(results) - len(errors)}")
    print(
        f"  CPU used by the app, workers and sandboxes: {cpu:.1f} s = {cpu / n:.2f} s per "
        f"submission (≥, sampled) → at most {os.cpu_count() / (cpu / n):.1f}/s on "
        f"{os.cpu_count()} idle cores"
    )
    print(f"  load average before {load_before:.2f}, after: {load()}")


def rss_report(expected_kernels: int) -> None:
    wait_quiet(timeout=60)
    deadline = time.monotonic() + 60
    roles = memory()
    jobs = ("forked sandboxes (jobs)", "bubblewrap sandboxes (jobs)")
    while sum(roles.get(role, (0, 0, 0))[0] for role in jobs) < expected_kernels and (
        time.monotonic() < deadline
    ):
        time.sleep(0.5)
        roles = memory()
    total_rss = sum(v[1] for v in roles.values())
    total_pss = sum(v[2] for v in roles.values())
    print(f"\nMemory of the app with its warm pools ({load()}):")
    for role, (count, rss, pss) in sorted(roles.items()):
        mib = f"RSS {rss / 2**20:6.0f} MiB  PSS {pss / 2**20:6.0f} MiB"
        print(f"  {role:28s} {count:3d} processes  {mib}")
    print(
        f"  total                                      RSS {total_rss / 2**20:6.0f} MiB  "
        f"PSS {total_pss / 2**20:6.0f} MiB  ({total_rss / 2**30:.2f} GiB RSS)"
    )


def core(repeat: int) -> None:
    """The grading core alone, in this process, with its phases."""
    from panlearn.grading.core.pipeline import compute_reference_answers, grade_notebook
    from panlearn.grading.core.pool import KernelPool
    from panlearn.grading.core.settings import GradingSettings
    from panlearn.grading.core.spec import load_exercise_spec

    source = nbformat.read(EXERCISE, as_version=4)
    submission = answered_notebook()
    params = {"data_file": str(DATA)}
    settings = GradingSettings(
        data_dirs=(DATA.parent,), work_dir=Path(tempfile.mkdtemp(prefix="panlearn-bench-"))
    )
    with KernelPool(settings, size=2) as pool:
        # As a worker does: the spec and the author's reference run are cached
        # (in the database for the latter), so a submission does not pay them.
        spec = load_exercise_spec(source)
        reference = compute_reference_answers(source, parameters=params, data_files=[DATA],
                                              settings=settings, pool=pool, spec=spec)
        totals, phases, plain = [], {}, []
        for i in range(repeat):
            if i % 2 == 0:
                plain.append(plain_papermill())
            pool.wait_until_full(120)
            time.sleep(0.3)
            t = time.perf_counter()
            outcome = grade_notebook(
                source,
                submission,
                parameters=params,
                data_files=[DATA],
                settings=settings,
                pool=pool,
                spec=spec,
                reference=reference,
            )
            totals.append(time.perf_counter() - t)
            for key, value in outcome.timings.items():
                phases.setdefault(key, []).append(value)
    print(f"\nCore pipeline, in-process warm pool ({load()}):")
    med, med_plain = statistics.median(totals), statistics.median(plain)
    print(
        f"  grade_notebook median {ms(med)}; plain papermill median {ms(med_plain)} "
        f"→ {med_plain / med:.1f}×"
    )
    print(
        "  phases (median ms): "
        + ", ".join(f"{k} {statistics.median(v) * 1000:.1f}" for k, v in phases.items())
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100, help="submissions for the throughput run")
    parser.add_argument("--latency", type=int, default=15, help="sequential submissions timed")
    parser.add_argument("--plain", type=int, default=7, help="plain papermill runs interleaved")
    parser.add_argument("--threads", type=int, default=4, help="client threads posting")
    parser.add_argument("--workers", type=int, default=2, help="PANLEARN_GRADING_WORKERS")
    parser.add_argument("--kernels", type=int, default=2, help="PANLEARN_GRADING_KERNELS")
    parser.add_argument("--core", type=int, default=0, help="also time the core N times")
    parser.add_argument("--skip", default="", help="comma list of: latency,throughput,memory")
    parser.add_argument("--poll", type=float, default=0.01, help="seconds between state polls")
    parser.add_argument(
        "--wal", action="store_true", help="put the SQLite database in WAL mode (fewer fsyncs)"
    )
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))

    print(f"panlearn grading bench: {load()}, Python {sys.version.split()[0]}")
    instance = Path(tempfile.mkdtemp(prefix="panlearn-bench-instance-"))
    app = build_app(instance, args.workers, args.kernels, wal=args.wal)
    Client.poll = args.poll
    for name in ("werkzeug", "papermill", "traitlets", "alembic"):  # one line per request: noise
        logging.getLogger(name).setLevel(logging.WARNING)
    from panlearn.grading.core.settings import grading_settings

    settings = grading_settings(app.config["PANLEARN"])
    print(
        f"app: {args.workers} grading workers × {args.kernels} warm kernels, sandbox "
        f"{settings.sandbox}, preload {','.join(settings.preload_modules)} (+ learned), "
        f"SQLite journal {'WAL' if args.wal else 'default (rollback)'}"
    )
    server = Server(app)
    body = nbformat.writes(answered_notebook()).encode()
    try:
        client = Client(server.url)
        t = time.perf_counter()
        warm = [client.submit(body) for _ in range(2)]  # starts the workers; fills the cache
        for url in warm:
            client.wait(url, timeout=300)
        print(f"workers started and first submissions graded in {time.perf_counter() - t:.1f} s")
        if "latency" not in skip:
            latency(app, client, body, args.latency, args.plain)
        if "memory" not in skip:
            rss_report(args.workers * args.kernels)
        if "throughput" not in skip:
            throughput(client, body, args.n, args.threads)
        if args.core:
            core(args.core)
    finally:
        server.close()
        from panlearn.wiring import services_of

        services_of(app).dispatcher.stop()


if __name__ == "__main__":
    main()

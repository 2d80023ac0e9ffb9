"""Start-up cost: `flask --app app --help` against `python -c "import flask"`, same run.

Usage: .venv/bin/python bench/startup.py [--runs N] [--quick] [--command "courses --help"]
                                         [--compare OTHER_CHECKOUT]

Every `flask` command loads the app first, so this is the floor of every CLI
command. A command's app is assembled (extensions, models, views) only when a
command runs (`panlearn.deferred_app`): `--command routes` times a command that
does, and so what a web or grading worker's start costs. Both are run as fresh
processes, interleaved, N times each; the medians of wall time and their ratio
are printed (target: within 2.5x of importing Flask), and the medians of CPU
time (user + system), steadier than wall time on a shared machine. The app
runs on a temporary
instance folder, so nothing here touches a real one. `--command` adds one
more `flask --app app <command>` to time (e.g. "courses --help"); `--compare`
times `flask --app app --help` in another checkout too, with this venv (an
export of main: the figure before a change, in the same run). `--pages` also
times the first requests of a fresh web process (app built, then, after one
API request, the catalogue, a lesson page rendered cold, an exercise page, a
search; no grading workers), since
what start-up no longer imports is imported by the first request that needs it.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLASK = Path(sys.executable).parent / "flask"
TARGET = 2.5
EXTENSIONS = ("import flask, sqlalchemy.orm, flask_sqlalchemy, flask_smorest, flask_limiter, "
              "flask_wtf")


def _seconds(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one run of ``argv``."""
    cwd = ROOT
    if argv and argv[0].startswith("cwd="):
        cwd, argv = Path(argv[0].removeprefix("cwd=")), argv[1:]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


#: Run in a fresh interpreter in a checkout: import reading-nexus (no grading), then, in
#: another fresh interpreter, time the app's build and its first page requests.
_SEED = """
import sys
from pathlib import Path
from flask_migrate import upgrade
from panlearn import create_app
from panlearn.authoring.folder import load_course_folders
from panlearn.authoring.service import import_courses
from panlearn.extensions import db
from panlearn.organisations import load_organisations_file, sync_organisations
app = create_app({"INSTANCE_DIR": sys.argv[1], "GRADING_VALIDATE": False})
with app.app_context():
    upgrade(directory=str(Path("migrations").resolve()), revision="heads")
    sync_organisations(db.session, load_organisations_file(Path("content/organisations.yml")))
    import_courses(db.session, load_course_folders(Path("courses/reading-nexus")), publish=True)
"""
_FIRST = """
import json, sys, time
start = time.perf_counter()
from panlearn import create_app
# No grading workers: their start would share the CPU with the requests measured.
app = create_app({"INSTANCE_DIR": sys.argv[1], "GRADING_WORKERS": 0})
took = {"build the app": time.perf_counter() - start}
client = app.test_client()
course = client.get("/api/courses/reading-nexus").get_json()
lessons = [lesson for module in course["modules"] for lesson in module["lessons"]]
reading = next(lesson["id"] for lesson in lessons if not lesson["exercise_id"])
exercise = next(lesson["id"] for lesson in lessons if lesson["exercise_id"])
for name, path in (("catalogue page", "/"), ("lesson page, cold render", f"/lessons/{reading}"),
                   ("exercise page", f"/lessons/{exercise}"), ("search page", "/search?q=nexus")):
    start = time.perf_counter()
    status = client.get(path).status_code
    took[name] = time.perf_counter() - start
    assert status == 200, (path, status)
print(json.dumps(took))
"""


def _first_requests(checkout: Path, runs: int) -> dict[str, float]:
    """Median seconds of the app's build and its first requests, fresh process each run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PANLEARN_")}
    samples: dict[str, list[float]] = {}
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="panlearn-first-") as tmp:
            subprocess.run([sys.executable, "-c", _SEED, tmp], cwd=checkout, env=env,
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            out = subprocess.run([sys.executable, "-c", _FIRST, tmp], cwd=checkout, env=env,
                                 check=True, capture_output=True, text=True).stdout
        for name, value in json.loads(out.strip().splitlines()[-1]).items():
            samples.setdefault(name, []).append(value)
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    """Time the commands and print the medians and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs of each command")
    parser.add_argument("--quick", action="store_true", help="5 runs of each")
    parser.add_argument("--command", action="append", default=[],
                        help='another `flask --app app …` to time, e.g. "courses --help"')
    parser.add_argument("--compare", type=Path, action="append", default=[],
                        help="another checkout whose `flask --app app --help` to time")
    parser.add_argument("--pages", action="store_true",
                        help="also time a fresh web process's first requests")
    args = parser.parse_args()
    runs = 5 if args.quick else args.runs
    with tempfile.TemporaryDirectory(prefix="panlearn-startup-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PANLEARN_")}
        env["PANLEARN_INSTANCE_DIR"] = tmp
        commands = {
            "python -c 'import flask'": [sys.executable, "-c", "import flask"],
            # The floor: the extensions `create_app` binds, before any panlearn module.
            "import the app's extensions": [sys.executable, "-c", EXTENSIONS],
            "flask --app app --help": [str(FLASK), "--app", "app", "--help"],
        }
        for extra in args.command:
            commands[f"flask --app app {extra}"] = [str(FLASK), "--app", "app", *extra.split()]
        for other in args.compare:
            commands[f"{other}: flask --app app --help"] = [
                f"cwd={other.resolve()}", str(FLASK), "--app", "app", "--help"]
        for argv in commands.values():  # warm the file cache; not counted
            _seconds(argv, env)
        times: dict[str, list[float]] = {name: [] for name in commands}
        cpu: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(runs):  # interleaved, so a burst of load hits both alike
            for name, argv in commands.items():
                wall, used = _seconds(argv, env)
                times[name].append(wall)
                cpu[name].append(used)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"start-up, median of {runs} runs each (load average {load:.1f}, "
          f"{os.cpu_count()} cores):")
    medians = {name: statistics.median(values) for name, values in times.items()}
    cpu_medians = {name: statistics.median(values) for name, values in cpu.items()}
    for name, value in medians.items():
        spread = f"{min(times[name]):.2f}-{max(times[name]):.2f}"
        print(f"  {name:<40} {value:6.2f} s wall (range {spread} s), "
              f"{cpu_medians[name]:.2f} s CPU")
    baseline = medians["python -c 'import flask'"]
    cpu_baseline = cpu_medians["python -c 'import flask'"]
    for name, value in medians.items():
        if name != "python -c 'import flask'":
            ratio = value / baseline
            verdict = "met" if ratio <= TARGET else "NOT met"
            print(f"  {name}: {ratio:.2f}x import flask wall, "
                  f"{cpu_medians[name] / cpu_baseline:.2f}x CPU "
                  f"(target <= {TARGET}x: {verdict})")
            print("BENCH " + json.dumps({
                "name": f"start-up: {name}", "value": round(ratio, 2), "unit": "x",
                "target": f"<= {TARGET}", "baseline": f"import flask {baseline:.2f} s",
                "ratio": round(ratio, 2)}))

    if args.pages:
        checkouts = [ROOT, *args.compare]
        figures = {checkout: _first_requests(checkout, max(3, runs // 3))
                   for checkout in checkouts}
        print("first requests of a fresh process, median seconds:")
        names = list(figures[ROOT])
        print(f"  {'':<28}" + "".join(f"{str(c)[-22:]:>24}" for c in checkouts))
        for name in names:
            print(f"  {name:<28}" + "".join(f"{figures[c][name]:>24.3f}" for c in checkouts))


if __name__ == "__main__":
    main()

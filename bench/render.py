"""Lesson rendering cost: cold render, nbconvert CLI baseline, cached hit, whole pages.

Usage: .venv/bin/python bench/render.py [--no-app | --pages-only] [NOTEBOOK.ipynb ...]

Without arguments it renders courses/**/*.ipynb, or, if there are none, a
generated lesson (markdown, maths, code and a matplotlib PNG plot). Then, on a
temporary instance with the shipped courses imported and published (no
reference grading, so nothing is downloaded), it
measures a cached lesson page (`/lessons/<id>`) end to end: the median latency
through the app's test client (in-process, target under 5 ms), and requests/s
with a few concurrent clients against a real server on 127.0.0.1 (werkzeug
threaded, and gunicorn when installed). Prints figures; asserts nothing.
"""

from __future__ import annotations

import base64
import http.client
import io
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat
from nbformat import v4

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._net import free_port, wait_port  # noqa: E402
from panlearn.notebooks.canonical import notebook_sha256  # noqa: E402
from panlearn.notebooks.render import render_lesson  # noqa: E402

JUPYTER = ROOT / ".venv" / "bin" / "jupyter"
GUNICORN = Path(sys.executable).parent / "gunicorn"
HIT_REPEATS = 200
COLD_REPEATS = 5
PAGE_REPEATS = 300
CLIENTS = 4
REQUESTS_PER_CLIENT = 150


def _plot_png() -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    q = np.linspace(0.01, 0.5, 200)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(q, np.sin(q * 40) ** 2 / (q * 40) ** 2)
    ax.set_xlabel("q (1/Å)")
    ax.set_ylabel("I(q)")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def generated_lesson() -> nbformat.NotebookNode:
    """A typical reading lesson: prose with maths, code, text output and a plot."""
    cells = [v4.new_markdown_cell(
        "# Small-angle scattering\n\nThe scattered intensity is "
        "$I(q) = |F(q)|^2$ with $q = 4\\pi\\sin\\theta/\\lambda$.\n\n"
        "$$P(q) = \\left[\\frac{3(\\sin qR - qR\\cos qR)}{(qR)^3}\\right]^2$$"
    )]
    png = _plot_png()
    for index in range(10):
        cells.append(v4.new_markdown_cell(
            f"## Step {index}\n\nSome *explanation* with a list:\n\n- one\n- two $x_{index}$\n"
        ))
        cells.append(v4.new_code_cell(
            "import numpy as np\nq = np.linspace(0.01, 0.5, 200)\n"
            "intensity = np.sin(q * 40) ** 2 / (q * 40) ** 2\nprint(intensity[:5])",
            execution_count=index + 1,
            outputs=[v4.new_output("stream", name="stdout", text="[1. 0.99 0.98 0.96 0.93]\n")],
        ))
    cells.append(v4.new_code_cell("plt.plot(q, intensity)", execution_count=11, outputs=[
        v4.new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"}),
    ]))
    nb = v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python", "pygments_lexer": "ipython3"}
    return nb


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def bench_one(nb: nbformat.NotebookNode, path: Path) -> tuple[float, float, float, float]:
    """Cold render, CLI baseline, cached hit (with and without a known hash), in ms."""
    cold = []
    for _ in range(COLD_REPEATS):
        with tempfile.TemporaryDirectory() as cache:
            start = time.perf_counter()
            render_lesson(nb, cache)
            cold.append(time.perf_counter() - start)

    cli = []
    for _ in range(3):
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            subprocess.run(
                [str(JUPYTER), "nbconvert", "--to", "html", "--output-dir", out, str(path)],
                check=True, capture_output=True,
            )
            cli.append(time.perf_counter() - start)

    with tempfile.TemporaryDirectory() as cache:
        render_lesson(nb, cache)
        sha = notebook_sha256(nb)
        hit, hit_known = [], []
        for _ in range(HIT_REPEATS):
            start = time.perf_counter()
            render_lesson(nb, cache)
            hit.append(time.perf_counter() - start)
            start = time.perf_counter()
            render_lesson(nb, cache, sha256=sha)
            hit_known.append(time.perf_counter() - start)
    return _median_ms(cold), _median_ms(cli), _median_ms(hit), _median_ms(hit_known)


def _app_environment(instance: Path) -> dict[str, str]:
    return {
        "PANLEARN_INSTANCE_DIR": str(instance),
        "PANLEARN_DATABASE_URL": f"sqlite:///{instance / 'bench.sqlite3'}",
        "PANLEARN_COURSES_DIR": str(ROOT / "courses"),
        "PANLEARN_CONTENT_DIR": str(ROOT / "content"),
        # Pages only: no grading worker processes competing for the CPU.
        "PANLEARN_GRADING_WORKERS": "0",
    }


def _lesson_paths(app) -> list[str]:
    from panlearn.catalogue import lessons_of, list_courses
    from panlearn.extensions import db

    with app.app_context():
        versions = list_courses(db.session, None, per_page=1000).items
        return [f"/lessons/{lesson.id}" for version in versions
                for _, lesson in lessons_of(version)]


def _import_shipped_courses(app) -> None:
    from flask_migrate import upgrade

    from panlearn.authoring.folder import CourseFolderError, load_course_folders
    from panlearn.authoring.service import import_courses
    from panlearn.extensions import db
    from panlearn.organisations import load_organisations_file, sync_organisations

    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        sync_organisations(db.session, load_organisations_file(
            ROOT / "content" / "organisations.yml"))
        for folder in sorted((ROOT / "courses").glob("*/course.yml")):
            try:
                sources = load_course_folders(folder.parent)
            except CourseFolderError as error:
                print(f"skipping {folder.parent.name}: {len(error.problems)} problem(s)")
                continue
            import_courses(db.session, sources, publish=True)


def _load(port: int, paths: list[str]) -> tuple[float, list[float], int]:
    """CLIENTS threads, each REQUESTS_PER_CLIENT keep-alive GETs; (seconds, latencies, errors)."""
    latencies: list[float] = []
    errors = [0]
    first_error: list[str] = []
    lock = threading.Lock()

    def client(offset: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine = []
        for index in range(REQUESTS_PER_CLIENT):
            start = time.perf_counter()
            try:
                connection.request("GET", paths[(offset + index) % len(paths)])
                response = connection.getresponse()
                response.read()
                ok = response.status == 200
                problem = f"HTTP {response.status}"
            except (OSError, http.client.HTTPException) as error:
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                ok, problem = False, repr(error)
            mine.append(time.perf_counter() - start)
            if not ok:
                with lock:
                    errors[0] += 1
                    first_error[:] = first_error or [problem]
        connection.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if first_error:
        print(f"  first error: {first_error[0]}")
    return time.perf_counter() - start, latencies, errors[0]


def _report_load(name: str, port: int, paths: list[str]) -> None:
    _load(port, paths)  # warm-up: connections, per-thread exporters, OS caches
    seconds, latencies, errors = _load(port, paths)
    total = CLIENTS * REQUESTS_PER_CLIENT
    print(f"{name}: {total / seconds:.0f} requests/s with {CLIENTS} concurrent clients "
          f"({total} cached lesson pages, median {_median_ms(latencies):.1f} ms, "
          f"p95 {sorted(latencies)[int(len(latencies) * 0.95)] * 1000:.1f} ms, "
          f"{errors} errors)")


def bench_pages() -> None:
    """Cached lesson pages through the app: in-process latency, then real servers."""
    from werkzeug.serving import make_server

    from panlearn import create_app

    with tempfile.TemporaryDirectory() as tmp:
        environment = _app_environment(Path(tmp) / "instance")
        os.environ.update(environment)
        app = create_app()
        _import_shipped_courses(app)
        paths = _lesson_paths(app)
        client = app.test_client()
        for path in paths:  # cold renders fill the cache
            assert client.get(path).status_code == 200, path
        medians, cpu_medians = [], []
        for path in paths:
            samples, cpu = [], []
            for _ in range(PAGE_REPEATS):
                start, start_cpu = time.perf_counter(), time.thread_time()
                client.get(path)
                samples.append(time.perf_counter() - start)
                cpu.append(time.thread_time() - start_cpu)
            medians.append(_median_ms(samples))
            cpu_medians.append(_median_ms(cpu))
        # CPU time of this thread: what the page costs, even on a machine busy with other work.
        print(f"cached lesson page through the test client (in-process): median "
              f"{statistics.median(medians):.2f} ms wall, {statistics.median(cpu_medians):.2f} ms "
              f"CPU over {len(paths)} lessons (per lesson wall: "
              f"{', '.join(f'{m:.2f}' for m in medians)} ms; target < 5 ms); load average "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")

        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            _report_load("werkzeug threaded server", server.server_port, paths)
        finally:
            server.shutdown()
            server.server_close()

        if GUNICORN.exists():
            _bench_gunicorn(environment, paths)


def _bench_gunicorn(environment: dict[str, str], paths: list[str]) -> None:
    port = free_port()
    workers = os.cpu_count() or 2
    process = subprocess.Popen(
        [str(GUNICORN), "--workers", str(workers), "--worker-class", "gthread", "--threads",
         "4", "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
         "panlearn:create_app()"],
        cwd=ROOT, env={**os.environ, **environment},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        if not wait_port(port, 20):
            print("gunicorn did not start; no figure")
            return
        _report_load(f"gunicorn ({workers} workers x 4 threads)", port, paths)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main(argv: list[str]) -> None:
    with_app = "--no-app" not in argv
    with_notebooks = "--pages-only" not in argv
    argv = [arg for arg in argv if arg not in {"--no-app", "--pages-only"}]
    if with_notebooks:
        _bench_notebooks(argv)
    if with_app:
        bench_pages()


def _bench_notebooks(argv: list[str]) -> None:
    paths = [Path(arg) for arg in argv] or sorted((ROOT / "courses").glob("**/*.ipynb"))
    tmp = None
    if not argv:
        # Always include the generated lesson: it has a real plot, unlike some courses.
        tmp = tempfile.TemporaryDirectory()
        path = Path(tmp.name) / "generated_lesson.ipynb"
        nbformat.write(generated_lesson(), path)
        paths.append(path)
        print("generated_lesson: 22 cells, maths, code, one matplotlib PNG plot")

    start = time.perf_counter()
    render_lesson(generated_lesson())  # builds the thread's exporter, compiles templates
    print(f"first render in the process (exporter + template compile): "
          f"{(time.perf_counter() - start) * 1000:.0f} ms")

    rows = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        cold, cli, hit, hit_known = bench_one(nb, path)
        rows.append((cold, cli, hit, hit_known))
        print(f"{path.name}: {path.stat().st_size / 1024:.0f} KiB  cold {cold:.1f} ms  "
              f"nbconvert CLI {cli:.0f} ms (x{cli / cold:.1f})  "
              f"cached {hit:.2f} ms  cached+known sha {hit_known:.3f} ms")
    if len(rows) > 1:
        medians = [statistics.median(column) for column in zip(*rows, strict=True)]
        print("median over {} notebooks: cold {:.1f} ms, CLI {:.0f} ms, cached {:.2f} ms, "
              "cached+known sha {:.3f} ms".format(len(rows), *medians))
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main(sys.argv[1:])

"""Lesson rendering cost: cold render, nbconvert CLI baseline, cached hit.

Usage: .venv/bin/python bench/render.py [NOTEBOOK.ipynb ...]

Without arguments it renders courses/**/*.ipynb, or, if there are none, a
generated lesson (markdown, maths, code and a matplotlib PNG plot). Prints
figures; asserts nothing.
"""

from __future__ import annotations

import base64
import io
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbformat import v4

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from panlearn.notebooks.canonical import notebook_sha256  # noqa: E402
from panlearn.notebooks.render import render_lesson  # noqa: E402

JUPYTER = ROOT / ".venv" / "bin" / "jupyter"
HIT_REPEATS = 200
COLD_REPEATS = 5


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


def main(argv: list[str]) -> None:
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

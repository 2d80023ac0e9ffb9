"""Grading figures: warm-pool latency vs plain papermill, throughput, RSS of warm kernels.

Run: .venv/bin/python bench/grading.py [--repeat 10] [--submissions 12]
Prints figures; asserts nothing (see DESIGN: benches are not tests).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import papermill

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from panlearn.grading.pipeline import grade_notebook  # noqa: E402
from panlearn.grading.pool import KernelPool  # noqa: E402
from panlearn.grading.settings import GradingSettings  # noqa: E402
from tests.unit.grading.nbbuild import answered, dmc_source, solved, student_version  # noqa: E402

DATA = Path(os.environ.get("PANLEARN_SHARED_DATA", ROOT.parent / "shared" / "data")) / "nexus" / "dmc01.h5"


def rss_of_group(pgid: int) -> int:
    """Resident memory (bytes) of every process in a process group (the whole sandbox)."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[2]) != pgid:
                continue
            for line in Path(f"/proc/{entry}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except (OSError, IndexError, ValueError):
            continue
    return total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--plain", type=int, default=5)
    parser.add_argument("--submissions", type=int, default=12)
    args = parser.parse_args()

    source = dmc_source()
    submission = answered(student_version(source), solved(source))
    params = {"data_file": str(DATA)}
    work = Path(tempfile.mkdtemp(prefix="panlearn-bench-"))
    settings = GradingSettings(data_dirs=(DATA.parent,), work_dir=work)

    # 1. Plain papermill (new kernel each run, no sandbox, no checks): the baseline.
    plain = []
    for _ in range(args.plain):
        t = time.perf_counter()
        papermill.execute_notebook(source, None, parameters=params, kernel_name="python3",
                                   progress_bar=False, request_save_on_cell_execute=False)
        plain.append(time.perf_counter() - t)

    # 2. End-to-end grading with a warm pool (sandboxed kernel + clean check runner).
    with KernelPool(settings, size=2) as pool:
        warm = []
        phases: dict[str, list[float]] = {}
        for _ in range(args.repeat):
            pool.wait_until_full(120)
            t = time.perf_counter()
            outcome = grade_notebook(source, submission, parameters=params, data_files=[DATA],
                                     settings=settings, pool=pool)
            warm.append(time.perf_counter() - t)
            assert outcome.score == outcome.max_score
            for key, value in outcome.timings.items():
                phases.setdefault(key, []).append(value)
        med_plain, med_warm = statistics.median(plain), statistics.median(warm)
        print(f"plain papermill.execute_notebook (new kernel, no sandbox): median {med_plain * 1000:.0f} ms "
              f"over {len(plain)}")
        print(f"grade_notebook, warm pool (sandboxed kernel + isolated checks): median {med_warm * 1000:.0f} ms "
              f"over {len(warm)}  → {med_plain / med_warm:.1f}× faster")
        print("  phases (median ms): " + ", ".join(
            f"{k} {statistics.median(v) * 1000:.1f}" for k, v in phases.items()))

        # 3. Throughput: back-to-back submissions, each on a fresh sandboxed kernel.
        pool.wait_until_full(120)
        t = time.perf_counter()
        for _ in range(args.submissions):
            grade_notebook(source, submission, parameters=params, data_files=[DATA],
                           settings=settings, pool=pool)
        elapsed = time.perf_counter() - t
        print(f"throughput (preload {','.join(settings.preload_modules)}): {args.submissions} submissions "
              f"in {elapsed:.1f} s = {args.submissions / elapsed:.2f}/s on {os.cpu_count()} cores")

    light = GradingSettings(data_dirs=(DATA.parent,), work_dir=work, preload_modules=("numpy", "h5py"))
    with KernelPool(light, size=2) as pool:
        pool.wait_until_full(120)
        t = time.perf_counter()
        for _ in range(args.submissions):
            grade_notebook(source, submission, parameters=params, data_files=[DATA],
                           settings=light, pool=pool)
        elapsed = time.perf_counter() - t
        print(f"throughput (preload numpy,h5py): {args.submissions} submissions in {elapsed:.1f} s "
              f"= {args.submissions / elapsed:.2f}/s")

    # 4. Memory of 4 warm kernels (whole sandbox process trees).
    with KernelPool(settings, size=4) as pool:
        pool.wait_until_full(180)
        kernels = [p for p in pool.processes() if p.kind == "kernel"]
        sizes = [rss_of_group(k.popen.pid) for k in kernels if k.popen is not None]
        print(f"RSS of {len(sizes)} warm kernels: {sum(sizes) / 2**20:.0f} MiB total, "
              f"{statistics.mean(sizes) / 2**20:.0f} MiB each (preload {','.join(settings.preload_modules)})")


if __name__ == "__main__":
    main()

"""Run every benchmark in bench/ and print one table of figures, targets and baselines.

Usage (from the repository root):
    .venv/bin/python -m bench                 # every script, in quick mode (~10-15 min)
    .venv/bin/python -m bench --full          # the scripts' own defaults (long), load in both modes
    .venv/bin/python -m bench --only search,datasets
    .venv/bin/python -m bench --skip load --logs /tmp/bench-logs

Each script runs as a subprocess (`python bench/<name>.py [quick options]`); its whole output
is kept in a log file. Figures are collected from `BENCH {json}` lines when a script prints
them, otherwise parsed from its human output (the formats known today; a line that no longer
matches is reported as "no figure parsed", never guessed). The table gives, for each figure,
its value, its target and whether it is met, and the baseline measured in the same run with
the ratio (grading vs plain papermill, rendering vs `jupyter nbconvert`, search vs SQLite FTS5,
cached vs cold). The load average is printed per script: the machine may be shared.

A `BENCH` line is one JSON object on one line, printed to stdout:
    BENCH {"name": "search: one-term median", "value": 12.3, "unit": "ms",
           "target": "< 20", "baseline": "FTS5 8.1 ms", "ratio": 0.66}
`target` is an operator and a number in the figure's unit (`<`, `<=`, `>`, `>=`, `==`), or a
plain number meaning "at least" for counts of good things and "exactly" for 0; `ratio` is the
baseline's cost over ours (above 1: we are faster), or for targets on a ratio, the ratio itself.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent

#: Quick-mode options per script, passed only when the script's source still has the flag.
QUICK: dict[str, list[tuple[str, str | None]]] = {
    "grading": [("--n", "20"), ("--latency", "6"), ("--plain", "3")],
    "search": [("--lessons", "1000"), ("--repeat", "10")],
    "load": [("--students", "10"), ("--duration", "40"), ("--drain", "90")],
}
#: render.py takes notebooks as arguments (no argparse): a few shipped lessons in quick mode.
RENDER_QUICK = ["courses/reading-nexus/01-inside-a-nexus-file.ipynb",
                "courses/powder-diffraction/02-bragg-law-and-d-spacings.ipynb",
                "courses/small-angle-scattering/04-radial-averaging.ipynb"]
TIMEOUT_S = {"grading": 1800, "search": 1800, "load": 900, "render": 1800, "datasets": 600}


@dataclass
class Figure:
    script: str
    name: str
    value: float | None
    unit: str = ""
    target: str | None = None
    baseline: str | None = None
    ratio: float | None = None  # baseline / ours (> 1: faster than the baseline)
    ratio_target: bool = False  # the target applies to the ratio, not the value

    def verdict(self) -> str:
        if self.target is None or self.value is None:
            return ""
        measured = self.ratio if self.ratio_target else self.value
        if measured is None:
            return "?"
        match = re.match(r"\s*(<=|>=|==|<|>|≤|≥)?\s*([-\d.]+)", self.target)
        if not match:
            return "?"
        op, number = match.group(1), float(match.group(2))
        if op is None:
            op = "==" if number == 0 else ">="
        op = {"≤": "<=", "≥": ">="}.get(op, op)
        ok = {"<": measured < number, "<=": measured <= number, ">": measured > number,
              ">=": measured >= number, "==": measured == number}[op]
        return "yes" if ok else "NO"


# -- running ----------------------------------------------------------------------------------


def scripts() -> list[str]:
    return sorted(p.stem for p in BENCH_DIR.glob("*.py") if not p.name.startswith("_"))


def command(name: str, full: bool, extra: list[str] | None = None) -> list[str]:
    path = BENCH_DIR / f"{name}.py"
    argv = [sys.executable, str(path)]
    if full:
        return argv + (extra or [])
    source = path.read_text(encoding="utf-8")
    if '"--quick"' in source:  # a script that grows its own quick mode is trusted with it
        return argv + ["--quick"] + (extra or [])
    if name == "render":
        return argv + [str(ROOT / nb) for nb in RENDER_QUICK if (ROOT / nb).exists()]
    for flag, value in QUICK.get(name, []):
        if f'"{flag}"' in source:
            argv += [flag] + ([value] if value is not None else [])
    return argv + (extra or [])


def run(name: str, argv: list[str], log_dir: Path, label: str) -> tuple[int, str, float, str]:
    log = log_dir / f"{label}.log"
    before = "{:.1f} {:.1f} {:.1f}".format(*os.getloadavg())
    print(f"[{time.strftime('%H:%M:%S')}] {label}: {' '.join(argv[1:])}  (load {before})",
          flush=True)
    started = time.monotonic()
    try:
        with log.open("w") as output:
            code = subprocess.run(argv, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT,
                                  timeout=TIMEOUT_S.get(name, 1800)).returncode
    except subprocess.TimeoutExpired:
        code = -1
    elapsed = time.monotonic() - started
    after = "{:.1f} {:.1f} {:.1f}".format(*os.getloadavg())
    text = log.read_text(errors="replace")
    print(f"           done in {elapsed:.0f} s, exit {code}, load {after}; log {log}", flush=True)
    return code, text, elapsed, f"{before} → {after}"


# -- parsing ----------------------------------------------------------------------------------


NUM = r"([-\d.]+)"


def bench_lines(script: str, text: str) -> list[Figure]:
    figures = []
    for line in text.splitlines():
        if not line.startswith("BENCH "):
            continue
        try:
            data = json.loads(line[len("BENCH "):])
        except json.JSONDecodeError:
            continue
        baseline = data.get("baseline")
        if isinstance(baseline, dict):
            baseline = f"{baseline.get('name', '')} {baseline.get('value', '')} " \
                       f"{baseline.get('unit', '')}".strip()
        figures.append(Figure(script, str(data.get("name")), _float(data.get("value")),
                              str(data.get("unit") or ""), _str(data.get("target")),
                              _str(baseline), _float(data.get("ratio")),
                              bool(data.get("ratio_target"))))
    return figures


def _float(value: object) -> float | None:
    try:
        return None if value is None else float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _str(value: object) -> str | None:
    return None if value is None else str(value)


def parse_datasets(text: str) -> list[Figure]:
    figures = []
    for line in text.splitlines():
        match = re.match(r"^(cached search|file cache hit)\s*\(([^)]*)\):\s+median "
                         + NUM + r" ms(?:\s+\(target ([^)]*)\))?", line.strip())
        if match:
            kind, detail, value, target = match.groups()
            figures.append(Figure("datasets", f"{kind} ({detail.split(',')[0]}), median",
                                  float(value), "ms", _strip_unit(target)))
            continue
        match = re.match(r"^download from 127\.0\.0\.1.*?:\s+" + NUM + r" MB/s", line.strip())
        if match:
            figures.append(Figure("datasets", "download from 127.0.0.1, verified",
                                  float(match.group(1)), "MB/s"))
    return figures


def _strip_unit(target: str | None) -> str | None:
    if target is None:
        return None
    match = re.match(r"\s*(<=|>=|<|>|≤|≥)?\s*([-\d.]+)", target)
    return f"{match.group(1) or ''} {match.group(2)}".strip() if match else target


def parse_grading(text: str) -> list[Figure]:
    figures = []
    plain = None
    for line in text.splitlines():
        stripped = line.strip()
        match = re.match(r"^plain papermill\.execute_notebook.*?: median " + NUM + " ms", stripped)
        if match:
            plain = float(match.group(1))
            figures.append(Figure("grading", "plain papermill (baseline), median", plain, "ms"))
            continue
        match = re.match(r"^POST → graded, (client-observed|server-side).*?: median " + NUM
                         + r" ms.*?→ " + NUM + "×", stripped)
        if match:
            kind, value, ratio = match.groups()
            figures.append(Figure("grading", f"POST → graded, {kind}, median", float(value),
                                  "ms", ">= 10", f"papermill {plain:.0f} ms" if plain else None,
                                  float(ratio), ratio_target=True))
            continue
        match = re.match(r"^all graded after " + NUM + r" s: " + NUM + r"/s client-observed;"
                         r".*?: " + NUM + "/s", stripped)
        if match:
            figures.append(Figure("grading", "throughput through the API (client)",
                                  float(match.group(2)), "/s", ">= 2"))
            figures.append(Figure("grading", "throughput (server created → finished)",
                                  float(match.group(3)), "/s", ">= 2"))
            continue
        match = re.match(r"^POST answered \(202\) after median " + NUM + " ms", stripped)
        if match:
            figures.append(Figure("grading", "POST answered (202), median",
                                  float(match.group(1)), "ms"))
            continue
        match = re.match(r"^states: .*?full marks: (\d+)/(\d+); lost: (-?\d+)", stripped)
        if match:
            figures.append(Figure("grading", "throughput run: lost submissions",
                                  float(match.group(3)), "", "0"))
            continue
        match = re.match(r"^CPU used by .*?= " + NUM + " s per submission", stripped)
        if match:
            figures.append(Figure("grading", "CPU per submission (sampled)",
                                  float(match.group(1)), "s"))
            continue
        match = re.match(r"^total\s+RSS\s+" + NUM + r" MiB\s+PSS\s+" + NUM + " MiB", stripped)
        if match:
            figures.append(Figure("grading", "memory: app + workers + warm kernels, RSS",
                                  float(match.group(1)) / 1024, "GiB", "< 1.5",
                                  f"PSS {float(match.group(2)) / 1024:.2f} GiB"))
            continue
        match = re.match(r"^grade_notebook median " + NUM + " ms; plain papermill median "
                         + NUM + " ms → " + NUM + "×", stripped)
        if match:
            figures.append(Figure("grading", "core pipeline (in-process), median",
                                  float(match.group(1)), "ms", ">= 10",
                                  f"papermill {match.group(2)} ms", float(match.group(3)),
                                  ratio_target=True))
    return figures


def parse_render(text: str) -> list[Figure]:
    figures = []
    rows = []
    median_line = None
    for line in text.splitlines():
        stripped = line.strip()
        match = re.match(r"^\S+: \d+ KiB\s+cold " + NUM + r" ms\s+nbconvert CLI " + NUM
                         + r" ms.*?cached " + NUM + r" ms\s+cached\+known sha " + NUM, stripped)
        if match:
            rows.append(tuple(float(x) for x in match.groups()))
            continue
        match = re.match(r"^median over (\d+) notebooks: cold " + NUM + " ms, CLI " + NUM
                         + " ms, cached " + NUM + r" ms, cached\+known sha " + NUM, stripped)
        if match:
            median_line = (int(match.group(1)), *(float(x) for x in match.groups()[1:]))
            continue
        match = re.match(r"^cached lesson page through the test client.*?median " + NUM
                         + " ms wall, " + NUM + " ms CPU", stripped)
        if match:
            figures.append(Figure("render", "cached lesson page, in-process, median",
                                  float(match.group(1)), "ms", "< 5",
                                  f"CPU {match.group(2)} ms"))
            continue
        match = re.match(r"^(werkzeug threaded server|gunicorn \([^)]*\)): " + NUM
                         + r" requests/s .*?median " + NUM + " ms, p95 " + NUM + r" ms, (\d+) "
                         "errors", stripped)
        if match:
            server, rate, median, p95, errors = match.groups()
            figures.append(Figure("render", f"cached lesson pages, {server}", float(rate),
                                  "req/s", None, f"median {median} ms, p95 {p95} ms, "
                                  f"{errors} errors"))
    if median_line is None and rows:
        columns = [statistics.median(column) for column in zip(*rows, strict=True)]
        median_line = (len(rows), *columns)
    if median_line:
        count, cold, cli, hit, known = median_line
        figures[:0] = [
            Figure("render", f"cold render, median of {count} notebooks", cold, "ms", None,
                   f"jupyter nbconvert {cli:.0f} ms", cli / cold if cold else None),
            Figure("render", "cached render (hash computed), median", hit, "ms", None,
                   f"cold {cold:.1f} ms", cold / hit if hit else None),
            Figure("render", "cached render (hash known), median", known, "ms", None,
                   f"cold {cold:.1f} ms", cold / known if known else None),
        ]
    return figures


def parse_search(text: str) -> list[Figure]:
    figures = []
    for line in text.splitlines():
        stripped = line.strip()
        match = re.match(r"^build rate\s+" + NUM + r" docs/s\s+" + NUM + " docs/s", stripped)
        if match:
            ours, fts = float(match.group(1)), float(match.group(2))
            figures.append(Figure("search", "index build rate", ours, "docs/s", ">= 200",
                                  f"FTS5 {fts:.0f} docs/s", ours / fts if fts else None))
            continue
        match = re.match(r"^index size\s+" + NUM + r" MB\s+" + NUM + " MB", stripped)
        if match:
            ours, fts = float(match.group(1)), float(match.group(2))
            figures.append(Figure("search", "index size", ours, "MB", None,
                                  f"FTS5 {fts:.1f} MB", fts / ours if ours else None))
            continue
        # Query rows; newer bench/search.py adds the CPU median and load after the hits.
        match = re.match(r"^([a-z][\w ()-]*?)\s+" + NUM + r" /\s+" + NUM + r"\s+" + NUM + r" /\s+"
                         + NUM + r"\s+(\d+)(?:\s.*)?$", stripped)
        if match:
            name, w_med, w_p95, f_med, f_p95, hits = match.groups()
            w_med_f, f_med_f = float(w_med), float(f_med)
            figures.append(Figure("search", f"query '{name}', median (p95 {w_p95} ms, "
                                  f"{hits} hits)", w_med_f, "ms", "< 20",
                                  f"FTS5 {f_med} ms (p95 {f_p95})",
                                  f_med_f / w_med_f if w_med_f else None))
    return figures


PARSERS = {"datasets": parse_datasets, "grading": parse_grading, "render": parse_render,
           "search": parse_search}


# -- the table --------------------------------------------------------------------------------


def fmt(value: float | None) -> str:
    if value is None:
        return "—"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}".rstrip("0").rstrip(".") if value != int(value) else f"{value:.0f}"
    return f"{value:.3g}"


def table(figures: list[Figure], problems: list[str]) -> None:
    headers = ("figure", "value", "target", "met", "baseline (same run)", "ratio")
    rows = []
    for f in figures:
        numeric = f.target is not None and re.fullmatch(r"\s*(<=|>=|==|<|>|≤|≥)?\s*[-\d.]+\s*",
                                                          f.target)
        target = "" if f.target is None else (
            f"{f.target}×" if f.ratio_target
            else f"{f.target} {f.unit}".strip() if numeric and f.unit != "count" else f.target)
        ratio = "" if f.ratio is None else f"{f.ratio:.2f}×"
        rows.append((f"{f.script}: {f.name}", f"{fmt(f.value)} {f.unit}".strip(), target,
                     f.verdict(), f.baseline or "", ratio))
    widths = [min(60, max(len(h), *(len(r[i]) for r in rows))) if rows else len(h)
              for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    print(line)
    print("-" * len(line))
    for row in rows:
        print("  ".join(cell[:60].ljust(w) for cell, w in zip(row, widths, strict=True)))
    for problem in problems:
        print(f"!! {problem}")
    print("ratio: the baseline's time over ours (above 1: faster than the baseline); for the "
          "index size, FTS5's size over ours; for the build rate, ours over FTS5's.")


def main(argv: list[str] | None = None) -> None:
    available = scripts()
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true",
                        help="the scripts' own defaults (long) instead of quick mode")
    parser.add_argument("--only", default="", help=f"comma list of: {','.join(available)}")
    parser.add_argument("--skip", default="", help="comma list of scripts to leave out")
    parser.add_argument("--logs", type=Path, help="keep each script's output in this folder")
    args = parser.parse_args(argv)
    only = [s for s in args.only.split(",") if s]
    skip = {s for s in args.skip.split(",") if s}
    unknown = (set(only) | skip) - set(available)
    if unknown:
        parser.error(f"unknown scripts: {', '.join(sorted(unknown))} (have: {available})")
    chosen = [s for s in (only or available) if s not in skip]
    log_dir = args.logs or Path(tempfile.mkdtemp(prefix="panlearn-bench-logs-"))
    log_dir.mkdir(parents=True, exist_ok=True)

    start_load = "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    print(f"panlearn benchmarks ({'full' if args.full else 'quick'} mode): {', '.join(chosen)}; "
          f"{os.cpu_count()} CPUs, load average {start_load}", flush=True)
    runs: list[tuple[str, list[str]]] = []
    for name in chosen:
        if name == "load":
            modes = ["local", "scale"] if args.full else ["local"]
            runs += [(f"load-{mode}", command(name, args.full, ["--mode", mode]))
                     for mode in modes]
        else:
            runs.append((name, command(name, args.full)))

    figures: list[Figure] = []
    problems: list[str] = []
    summary = []
    for label, argv_ in runs:
        name = label.split("-")[0]
        code, text, elapsed, loads = run(name, argv_, log_dir, label)
        found = bench_lines(name, text)
        if not found and name in PARSERS:
            found = PARSERS[name](text)
        figures += found
        summary.append(f"{label:12} {elapsed:6.0f} s  exit {code:3d}  load {loads}  "
                       f"{len(found)} figures")
        if code != 0:
            tail = [line for line in text.splitlines() if line.strip()][-1:] or [""]
            problems.append(f"{label} exited with {code} (log {log_dir / label}.log): "
                            f"{tail[0][:200]}")
        if not found:
            problems.append(f"{label}: no figure parsed (see {log_dir / label}.log)")

    print()
    print(f"panlearn benchmarks — {os.cpu_count()} CPUs; load average at start {start_load}, "
          "at end {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    for line in summary:
        print("  " + line)
    print()
    table(figures, problems)
    print(f"\nlogs: {log_dir}")


if __name__ == "__main__":
    main()

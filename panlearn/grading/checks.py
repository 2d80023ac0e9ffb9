"""Check results, the clean check runner, and feedback messages.

Isolated checks run in `CheckRunner`, a sandboxed Python that never sees
student code: it receives the check's source (hidden tests included), the
dataset parameters, the source notebook's imports, the answer values and,
for checks that read ``reference.<name>``, the reference solution's values
on the same data, and reports per check whether it raised. Messages shown to students are
built here from exception types and texts, never from the check's source.
"""

from __future__ import annotations

import ast
import re
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

#: Runs inside the check sandbox with ``python -I -c``; keep it dependency-free but numpy.
#:
#: A fork server: it imports numpy once, says ``ready``, then for each job path
#: read on stdin forks a child that runs that job's checks and exits, and
#: answers ``done <exit code>``. Each job thus starts from the same clean state
#: (nothing of one submission's values or checks can reach the next), without
#: paying a Python start and a numpy import per submission.
RUNNER_SOURCE = r"""
import builtins, contextlib, io, json, os, signal, sys, types
try:
    import numpy as np
except Exception:
    np = None

class CheckTimeout(BaseException):
    pass

def on_alarm(signum, frame):
    raise CheckTimeout()

def load(folder, entry):
    if entry["kind"] == "json":
        with open(os.path.join(folder, entry["file"])) as f:
            value = json.load(f)
        return tuple(value) if entry.get("tuple") else value
    value = np.load(os.path.join(folder, entry["file"]), allow_pickle=False)
    return value[()] if entry.get("scalar") else value

def run_job(job):
    ns = {"__name__": "__main__", "__builtins__": builtins}
    ns.update(job["parameters"])
    for statement in job["imports"]:
        try:
            exec(statement, ns)
        except Exception:
            pass
    signal.signal(signal.SIGALRM, on_alarm)
    results = []
    for check in job["checks"]:
        folder = check["folder"]
        for name, entry in check["manifest"].items():
            if entry["kind"] in ("json", "npy"):
                ns[name] = load(folder, entry)
            else:
                ns.pop(name, None)
        # The reference solution's values on the same data, for this check only.
        if "reference" in check:
            ns["reference"] = types.SimpleNamespace(**{
                name: load(check["reference_folder"], entry)
                for name, entry in check["reference"].items()})
        else:
            ns.pop("reference", None)
        buf = io.StringIO()
        result = {"grade_id": check["grade_id"], "status": "passed", "ename": None, "evalue": None}
        signal.setitimer(signal.ITIMER_REAL, job["timeout"])
        try:
            with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
                exec(compile(check["code"], "<check>", "exec"), ns)
        except CheckTimeout:
            result.update(status="failed", ename="TimeoutError", evalue="the check ran out of time")
        except BaseException as exc:
            result.update(status="failed", ename=type(exc).__name__, evalue=str(exc)[:2000])
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        result["stdout"] = buf.getvalue()[-2000:]
        results.append(result)
        with open(job["result"] + ".tmp", "w") as f:
            json.dump(results, f)
        os.replace(job["result"] + ".tmp", job["result"])

def read_job(job_path):
    # Read once, here: the child forked for the job inherits it.
    try:
        with open(job_path) as f:
            return json.load(f)
    except Exception:
        return None

def warm(job):
    # The author's imports, once, in this parent: later children fork with them loaded.
    import importlib
    for name in job.get("warm", []):
        if name not in sys.modules:
            try:
                importlib.import_module(name)
            except Exception:
                pass

print("ready", flush=True)
while True:
    job_path = sys.stdin.readline().strip()
    if not job_path:
        break
    job = read_job(job_path)
    if job is None:
        print("done 1", flush=True)
        continue
    warm(job)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            sys.stdin.close()
            run_job(job)
            code = 0
            print("done 0", flush=True)  # straight to the grader: one hop less
        except BaseException:
            pass
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        print("done", os.waitstatus_to_exitcode(status), flush=True)
"""

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@lru_cache(maxsize=256)
def needed_imports(import_code: str, check_sources: tuple[str, ...]) -> tuple[str, ...]:
    """The source notebook's import statements that the checks can use.

    The runner replays the author's imports before the checks; one that binds
    no name any check mentions (``import h5py`` when the checks only use
    ``np``) would only cost time. Star imports, and statements we cannot
    parse, are kept.
    """
    words = set(_WORD.findall("\n".join(check_sources)))
    kept = []
    for statement in (line for line in import_code.splitlines() if line.strip()):
        try:
            tree = ast.parse(statement)
        except SyntaxError:
            kept.append(statement)
            continue
        bound: set[str] = set()
        star = False
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                bound |= {a.asname or a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                star |= any(a.name == "*" for a in node.names)
                bound |= {a.asname or a.name for a in node.names}
        if star or not bound or bound & words:
            kept.append(statement)
    return tuple(kept)


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_CELL_FRAME = re.compile(r"^Cell In\s*\[(\d+)\]")
NOT_IMPLEMENTED = (
    "Not implemented yet: an answer cell above still raises NotImplementedError; "
    "replace `raise NotImplementedError()` with your solution."
)


@dataclass
class CheckResult:
    """One check's outcome, shaped like a Gradescope ``results.json`` test entry."""

    grade_id: str
    name: str
    score: float
    max_score: float
    status: str  # "passed" | "failed"
    output: str
    visibility: str
    ran: bool
    tamper_proof: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible dict: Gradescope test fields plus grade_id, ran, tamper_proof."""
        return asdict(self)


def strip_ansi(text: str) -> str:
    """Remove terminal colour codes from IPython tracebacks."""
    return _ANSI.sub("", text)


def student_frames(traceback: list[str], exclude_counts: set[int], max_lines: int = 8) -> str:
    """The last traceback frame that lies in the student's own cells.

    IPython prints one block per frame, starting ``Cell In[n], line k`` for
    notebook cells and ``File ...`` for libraries. Frames of check cells
    (``exclude_counts``) and of libraries are dropped, so hidden check code is
    never echoed back.
    """
    frames: list[tuple[int | None, list[str]]] = []
    for block in traceback:
        text = strip_ansi(block)
        for line in text.splitlines():
            match = _CELL_FRAME.match(line.strip())
            if match or line.strip().startswith("File "):
                frames.append((int(match.group(1)) if match else None, [line.rstrip()]))
            elif frames and line.strip() and set(line.strip()) - {"-", "~", "^"}:
                frames[-1][1].append(line.rstrip())
    own = [lines for count, lines in frames if count is not None and count not in exclude_counts]
    if not own:
        return ""
    return "\n".join(own[-1][:max_lines])


def failure_message(ename: str | None, evalue: str | None) -> str:
    """Actionable text for a failed check from its exception, without its source."""
    if ename == "AssertionError":
        return (
            evalue.strip() if evalue and evalue.strip() else "Your answer does not pass this check."
        )
    if ename == "CellTimeoutError" or ename == "TimeoutError":
        return f"Time limit: {evalue}" if evalue else "Time limit reached."
    return f"{ename}: {evalue}" if evalue else str(ename)

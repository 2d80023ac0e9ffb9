"""Checks: the job a check sandbox runs, their results, and the messages students read.

Isolated checks run in a check sandbox that never sees student code
(`inside.run_checks`): `check_job` assembles what it gets, the check's source
(hidden tests included), the dataset parameters, the source notebook's
imports, and plain values: the student's answers, the trusted context from the
reference run, and ``reference`` for checks that read it explicitly.
Messages shown to students are built here from exception types and texts,
never from the check's source.
"""

from __future__ import annotations

import ast
import io
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from .answers import Answer
from .spec import CheckSpec, ExerciseSpec

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


def check_job(spec: ExerciseSpec, parameters: Mapping[str, Any],
              values: Mapping[str, Mapping[str, Answer]],
              references: Mapping[str, Mapping[str, Answer]], timeout: float,
              ) -> tuple[dict[str, Any], list[bytes]]:
    """The header and ``.npy`` blobs of one job for a check sandbox.

    ``values`` holds each runnable check's names (answers and context) by
    grade id; ``references`` the values a check reads as ``reference.<name>``.
    Checks without values (they did not get to run) are left out. Arrays are
    sent once each, however many checks read them.
    """
    blobs: list[bytes] = []
    seen: dict[int, int] = {}

    def entry(answer: Answer) -> dict[str, Any]:
        if answer.kind == "json":
            return {"kind": "json", "value": answer.value,
                    "tuple": isinstance(answer.value, tuple)}
        if answer.kind == "npy":
            key = id(answer.value)
            if key not in seen:
                buf = io.BytesIO()
                np.save(buf, np.asarray(answer.value), allow_pickle=False)
                seen[key] = len(blobs)
                blobs.append(buf.getvalue())
            return {"kind": "npy", "blob": seen[key],
                    "scalar": np.ndim(answer.value) == 0
                    and not isinstance(answer.value, np.ndarray)}
        return {"kind": answer.kind}

    checks = []
    for check in spec.checks:
        if check.grade_id not in values:
            continue
        reference = references.get(check.grade_id) if check.reference_names else None
        checks.append({
            "grade_id": check.grade_id, "code": check.source,
            "values": {name: entry(a) for name, a in values[check.grade_id].items()},
            "reference": None if reference is None else {
                name: entry(reference[name]) for name in check.reference_names},
        })
    imports = needed_imports(spec.import_code, tuple(c.source for c in spec.checks))
    header = {"parameters": dict(parameters), "imports": list(imports), "timeout": timeout,
              "checks": checks}
    return header, blobs


def result(check: CheckSpec, status: str, output: str, ran: bool) -> CheckResult:
    """A check's outcome; points only when it passed."""
    return CheckResult(grade_id=check.grade_id, name=check.name,
                       score=check.points if status == "passed" else 0.0,
                       max_score=check.points, status=status, output=output,
                       visibility=check.visibility, ran=ran, tamper_proof=check.tamper_proof)

"""A check's result in words for the student: passed, or why not and where.

The messages name the student's own code (`checks.student_frames`), an earlier
failing cell when that is the real cause, and never show hidden tests or raw
tracebacks of the author's checks (`set_feedback`).
"""

from __future__ import annotations

from typing import Any

from nbformat import NotebookNode, v4

from .answers import Answer
from .checks import NOT_IMPLEMENTED, CheckResult, failure_message, student_frames
from .checks import result as check_result
from .engine import CellReply
from .matching import CHECK_MARK
from .spec import CheckSpec

NOT_PLAIN_PREFIX = "The check cannot read"


def earlier_error(
    executed: NotebookNode, replies: dict[int, CellReply], index: int
) -> CellReply | None:
    """The last error raised by a student cell above ``index`` (for hints)."""
    found: CellReply | None = None
    for i in range(index):
        reply = replies.get(i)
        if (
            reply is not None
            and reply.status == "error"
            and not executed.cells[i].metadata.get(CHECK_MARK)
        ):
            found = reply
    return found


def _hint(earlier: CellReply | None, check_counts: set[int | None]) -> str:
    if earlier is None:
        return ""
    if earlier.ename == "NotImplementedError":
        return NOT_IMPLEMENTED
    where = student_frames(earlier.traceback, {c for c in check_counts if c is not None})
    return f"An earlier cell failed with {earlier.ename}: {earlier.evalue}" + (
        f"\n{where}" if where else ""
    )


def isolated_result(
    check: CheckSpec,
    values: dict[str, Answer] | None,
    outcome: dict[str, Any] | None,
    not_run: str | None,
    earlier: CellReply | None,
) -> CheckResult:
    """The result of a check that ran in the check sandbox (or could not run there)."""
    def make(status: str, output: str, ran: bool) -> CheckResult:
        return check_result(check, status, output, ran)

    if not_run is not None:
        return make("failed", f"This check did not run: {not_run}.", False)
    assert values is not None
    bad = {n: a for n, a in values.items() if a.kind in {"unsupported", "invalid"}}
    if bad:
        name, answer = next(iter(bad.items()))
        text = (
            f"{NOT_PLAIN_PREFIX} `{name}`: it is a {answer.detail}, not plain data "
            "(a number, string, bool, None, list, dict or numpy array)."
            if answer.kind == "unsupported"
            else f"{NOT_PLAIN_PREFIX} `{name}`: {answer.detail}."
        )
        return make("failed", text, False)
    if outcome is None:
        return make("failed", "This check did not run: the checks ran out of time.", False)
    if outcome["status"] == "passed":
        return make("passed", (outcome.get("stdout") or "").strip() or "Passed.", True)
    missing = [n for n, a in values.items() if a.kind == "missing"]
    hint = _hint(earlier, set())
    if outcome.get("ename") == "NameError" and missing:
        text = f"`{missing[0]}` is not defined when this check runs."
    else:
        text = failure_message(outcome.get("ename"), outcome.get("evalue"))
    return make(
        "failed",
        "\n".join(
            p
            for p in (
                hint if hint == NOT_IMPLEMENTED else "",
                text,
                "" if hint == NOT_IMPLEMENTED else hint,
            )
            if p
        ),
        True,
    )


def in_kernel_result(
    check: CheckSpec,
    reply: CellReply | None,
    stop_reason: str | None,
    earlier: CellReply | None,
    check_counts: set[int | None],
) -> CheckResult:
    """The result of a check that ran in the student's kernel, from its cell's reply."""
    def make(status: str, output: str, ran: bool) -> CheckResult:
        return check_result(check, status, output, ran)

    if reply is None:
        return make(
            "failed",
            f"This check did not run: {stop_reason or 'the notebook stopped before it'}.",
            False,
        )
    if reply.status == "ok":
        return make("passed", "Passed.", True)
    counts = {c for c in check_counts if c is not None}
    if reply.ename == "NotImplementedError" or (
        earlier is not None and earlier.ename == "NotImplementedError"
    ):
        return make("failed", NOT_IMPLEMENTED, True)
    text = failure_message(reply.ename, reply.evalue)
    where = student_frames(reply.traceback, counts)
    if where:
        text += f"\nIn your code:\n{where}"
    hint = _hint(earlier, check_counts)
    return make("failed", text + (f"\n{hint}" if hint else ""), True)


def set_feedback(cell: NotebookNode, check: CheckSpec, result: CheckResult) -> None:
    """Show the visible check source and its result, never hidden tests or raw tracebacks."""
    cell.source = check.visible_source
    mark = "✓" if result.status == "passed" else "✗"
    cell.outputs = [
        v4.new_output(
            "stream",
            name="stdout",
            text=f"{mark} {result.name}: {result.score:g}/{result.max_score:g}\n{result.output}\n",
        )
    ]

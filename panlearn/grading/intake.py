"""The cheap look at an uploaded notebook, before anything parses it in earnest.

Validating a notebook against the nbformat schema, normalising it and matching
it to its exercise cost time in proportion to its cells, outputs and nesting:
a 10 MiB notebook of 100,000 one-line cells took 52 s, and a value nested
100,000 deep raised `RecursionError` deep inside a validator. So the upload is
read as JSON once (C speed, bounded by the upload size) and its shape is
checked first: how many lists and objects the text can hold at all, how many
cells and outputs it has, and how deeply it nests. A notebook over any limit
is refused with a message naming the limit; only one within them goes on to
nbformat.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from panlearn.grading.core.errors import SubmissionRejectedError


@dataclass(frozen=True)
class NotebookShapeLimits:
    """How big a submitted notebook may be, apart from its size in bytes.

    Generous for real exercise notebooks (tens of cells, a few outputs each,
    metadata a few levels deep); each bounds the work of a later step.
    """

    max_cells: int = 2_000
    max_outputs: int = 10_000
    #: Deepest nesting of lists and objects (an honest notebook needs about ten).
    max_depth: int = 64
    #: Most `[` and `{` in the text: bounds the JSON parser and the depth walk.
    max_containers: int = 500_000


def parse_upload(data: bytes, limits: NotebookShapeLimits) -> dict[str, Any]:
    """The upload as a JSON object, or `SubmissionRejectedError` naming what is too big.

    Only the JSON parser runs here (no schema, no normalising); what it returns
    still has to be validated as nbformat 4 by the caller.
    """
    containers = data.count(b"[") + data.count(b"{")
    if containers > limits.max_containers:
        raise _rejected(f"the notebook holds {containers:,} JSON lists and objects, more than "
                        f"the {limits.max_containers:,} accepted", "containers", containers)
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except RecursionError as exc:
        raise _too_deep(limits) from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise SubmissionRejectedError(
            f"not a valid Jupyter notebook (nbformat 4): {_first_line(exc)}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("cells"), list):
        raise SubmissionRejectedError(
            "not a valid Jupyter notebook (nbformat 4): it has no list of cells")
    cells = document["cells"]
    if len(cells) > limits.max_cells:
        raise _rejected(f"the notebook has {len(cells):,} cells, more than the "
                        f"{limits.max_cells:,} accepted", "cells", len(cells))
    outputs = sum(len(cell["outputs"]) for cell in cells
                  if isinstance(cell, dict) and isinstance(cell.get("outputs"), list))
    if outputs > limits.max_outputs:
        raise _rejected(f"the notebook has {outputs:,} outputs, more than the "
                        f"{limits.max_outputs:,} accepted: clear the outputs (Kernel → Restart "
                        "& Clear Output) and submit again", "outputs", outputs)
    if _deeper_than(document, limits.max_depth):
        raise _too_deep(limits)
    return document


def _deeper_than(document: Any, limit: int) -> bool:
    """Whether lists and objects nest more than `limit` deep (iterative: no recursion)."""
    stack = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return True
        children = value.values() if type(value) is dict else value
        stack.extend((child, depth + 1) for child in children
                     if type(child) is dict or type(child) is list)
    return False


def _too_deep(limits: NotebookShapeLimits) -> SubmissionRejectedError:
    return _rejected(f"the notebook's JSON is nested more than {limits.max_depth} levels "
                     "deep", "depth", limits.max_depth)


def _rejected(message: str, field: str, value: int) -> SubmissionRejectedError:
    return SubmissionRejectedError(message, errors={"notebook": [message], field: value})


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__

"""The executed notebook of a grading run: stored, and rendered as the student's feedback.

Two things here are the student's doing and must not hurt the platform: the
executed notebook may not be valid nbformat (`get_ipython().execution_count =
-100` gives every later cell a negative count), and it shows the files the
platform injected, whose paths are the host's (`…/instance/data-cache/objects/…`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import nbformat
from nbformat import NotebookNode

from panlearn.errors import InvalidInputError, NotFoundError
from panlearn.grading.submissions import latest_run
from panlearn.models import Submission
from panlearn.notebooks.canonical import canonical_json
from panlearn.notebooks.render import render_lesson

log = logging.getLogger(__name__)


def feedback_html(submission: Submission, *, cache_dir: Path) -> str:
    """Sanitised HTML of the latest run's executed notebook, without host paths.

    The executed notebook holds the student's own code, the visible part of
    each check and the check's result; hidden tests were never put in it.
    It is rendered as it is (`solutions=True`): there is nothing to hide, and
    hiding would clear the outputs the student needs to see. The data files
    it was run on are named as the registry names them.
    """
    run = latest_run(submission)
    if run is None or run.executed_notebook is None:
        raise NotFoundError("This submission has no feedback yet.")
    notebook = nbformat.reads(run.executed_notebook.content.decode("utf-8"), as_version=4)
    notebook = without_host_paths(notebook, run.parameters or {})
    # Cached under the blob's hash: the same blob was run with the same parameters.
    return render_lesson(notebook, cache_dir, solutions=True, sha256=run.executed_notebook_hash)


def without_host_paths(notebook: NotebookNode, parameters: Mapping[str, Any]) -> NotebookNode:
    """The notebook with each injected file path replaced by the file's registry name.

    Wherever the path appears: the injected parameters cell, papermill's
    metadata, and outputs or error messages that print it. A data file's path
    in the verified cache ends with its registry file name
    (`objects/<sha[:2]>/<sha256>/<file>`), as in a mirror folder.
    """
    names = {path: PurePosixPath(path).name for path in parameters.values()
             if isinstance(path, str) and path.startswith("/")}
    if not names:
        return notebook
    text = json.dumps(notebook)
    for path in sorted(names, key=len, reverse=True):  # a longer path first: no partial hits
        text = text.replace(json.dumps(path)[1:-1], json.dumps(names[path])[1:-1])
    return nbformat.from_dict(json.loads(text))


def storable_notebook(executed: NotebookNode) -> tuple[bytes | None, str | None]:
    """The canonical bytes of an executed notebook, and a note for the student if it has none.

    A notebook the student's code left invalid (negative execution counts, …) is
    repaired where that is harmless; if it still cannot be stored, the grade is
    recorded without it, and the note says why.
    """
    try:
        return canonical_json(executed), None
    except (InvalidInputError, RecursionError) as first:
        try:
            return canonical_json(_repaired(executed)), None
        except (InvalidInputError, RecursionError) as error:
            log.info("executed notebook not stored: %s (first: %s)", error, first)
            return None, ("Your notebook as it ran cannot be shown: your code left it in a "
                          f"state that is not a valid notebook ({_detail(error)}).")


def _repaired(executed: NotebookNode) -> NotebookNode:
    """Execution counts that are not counts (set by the student's code) become empty."""
    repaired = nbformat.from_dict(json.loads(json.dumps(executed)))
    for cell in repaired.get("cells", []):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        if not _is_count(cell.get("execution_count")):
            cell["execution_count"] = None
        for output in cell.get("outputs") or []:
            if isinstance(output, dict) and "execution_count" in output and not _is_count(
                    output["execution_count"]):
                output["execution_count"] = None
    return repaired


def _is_count(value: Any) -> bool:
    return value is None or (type(value) is int and value >= 0)


def _detail(error: BaseException) -> str:
    if isinstance(error, RecursionError):
        return "nested too deeply"
    return str(getattr(error, "detail", error))[:300]

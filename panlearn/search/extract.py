"""Notebook → text for the index: markdown prose and code, without outputs.

The caller passes the *student* version of a notebook (solutions and hidden
checks already removed by `panlearn.notebooks`); indexing anything else would
let a search for a solution's words find the exercise and show them in a
snippet. Outputs are dropped: they are machine-made (tracebacks, arrays,
base64 images), would swamp the vocabulary, and differ between runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# Embedded images (`![x](data:image/png;base64,...)`, `<img src="data:...">`)
# are megabytes of base64 that no one searches for.
_DATA_URI = re.compile(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=\s]+")
# Attachments are referenced as `attachment:name.png`; the name is noise too.
_ATTACHMENT = re.compile(r"attachment:\S+")
# IPython magics and shell escapes (`%matplotlib inline`, `!pip install`) are
# plumbing, not what a lesson teaches.
_MAGIC_LINE = re.compile(r"^\s*[%!].*$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class NotebookText:
    """The searchable text of one notebook."""

    markdown: str
    code: str


def extract_notebook_text(notebook: Mapping[str, Any]) -> NotebookText:
    """Collect markdown and code cell sources of a (student-version) notebook.

    Accepts an `nbformat.NotebookNode` or the same structure as plain dicts
    (v4). Raw cells count as prose; outputs and metadata are ignored.
    """
    markdown: list[str] = []
    code: list[str] = []
    for cell in notebook.get("cells", []):
        source = _source(cell.get("source", ""))
        if not source.strip():
            continue
        cell_type = cell.get("cell_type")
        if cell_type == "code":
            code.append(_MAGIC_LINE.sub("", source).strip())
        elif cell_type in ("markdown", "raw"):
            markdown.append(_ATTACHMENT.sub("", _DATA_URI.sub("", source)).strip())
    return NotebookText(
        markdown="\n\n".join(part for part in markdown if part),
        code="\n\n".join(part for part in code if part),
    )


def _source(source: str | Iterable[str]) -> str:
    # nbformat joins multi-line sources on read, but a dict straight from JSON
    # may still hold the list form.
    return source if isinstance(source, str) else "".join(source)

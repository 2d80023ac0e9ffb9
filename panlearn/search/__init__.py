"""Full-text search over courses, lessons and exercises (whoosh).

Plain Python over plain values: the app turns its models into
`SearchDocument`s after each commit and calls `Index.upsert` / `delete` /
`delete_course`, or `rebuild` from the CLI; the API and pages call `search`.
Nothing here imports Flask or the database, so it is tested on its own.

Modules, each named for what it holds:

- `documents`: the plain values indexed (`SearchDocument`) and who looks (`Viewer`)
- `schema`, `analysis`, `plaintext`, `extract`: the fields, their tokenisers, text for snippets
- `index`: the index adapter (open, upsert, delete, rebuild, one writer at a time)
- `bulk`: the segment writer and its numpy postings files; `blocks`: whoosh's blocks, decoded
- `query`: `search`, the orchestrator of `validation`, `parsing`, `docsets` (which documents
  match), `scoring` (BM25F), `ranking`, `snippets` and `suggest` ("did you mean")
- `synonyms`: short names of techniques and facilities; `sync`: courses into documents
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

#: Where each name below lives. They are imported on first use, not with the package:
#: whoosh and numpy would otherwise cost every `flask` command and every page module.
_HOMES = {
    "KINDS": "documents", "SearchDocument": "documents", "Viewer": "documents",
    "course_doc_id": "documents", "exercise_doc_id": "documents", "lesson_doc_id": "documents",
    "NotebookText": "extract", "extract_notebook_text": "extract",
    "Index": "index", "SearchIndexBusyError": "index",
    "FacetCount": "query", "SearchHit": "query", "SearchResult": "query", "search": "query",
}


def __getattr__(name: str) -> Any:
    """The re-exported name, imported from its module when first asked for."""
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_HOMES[name]}"), name)


__all__ = [
    "KINDS",
    "FacetCount",
    "Index",
    "NotebookText",
    "SearchDocument",
    "SearchHit",
    "SearchIndexBusyError",
    "SearchResult",
    "Viewer",
    "course_doc_id",
    "exercise_doc_id",
    "extract_notebook_text",
    "lesson_doc_id",
    "search",
]

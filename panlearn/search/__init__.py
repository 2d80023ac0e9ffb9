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

from panlearn.search.documents import (
    KINDS,
    SearchDocument,
    Viewer,
    course_doc_id,
    exercise_doc_id,
    lesson_doc_id,
)
from panlearn.search.extract import NotebookText, extract_notebook_text
from panlearn.search.index import Index, SearchIndexBusyError
from panlearn.search.query import FacetCount, SearchHit, SearchResult, search

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

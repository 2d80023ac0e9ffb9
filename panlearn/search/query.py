"""Searching the index: `search`, the one entry point for the REST endpoint and the page.

Everything a user types or clicks arrives here as plain values. `search`
runs the steps, each in a module of its own:

- `validation`: reject what whoosh would misread, as `InvalidInputError`s naming the parameter;
- `parsing`: the text query, facet filters and visibility as whoosh queries;
- `docsets`: which documents match, as numpy arrays (exact totals and facet counts);
- `scoring` and `ranking`: BM25F scores and the page, ties in catalogue order;
- `snippets`: a marked window of text for each hit;
- `suggest`: "did you mean".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from whoosh import query as wq
from whoosh.searching import Searcher

from panlearn.search.docsets import document_sets
from panlearn.search.documents import KINDS, Viewer
from panlearn.search.index import Index
from panlearn.search.parsing import facet_filter, parse_query, visibility_filter
from panlearn.search.ranking import rank_page
from panlearn.search.snippets import SNIPPET_FIELDS, positive_terms, snippet
from panlearn.search.suggest import suggest
from panlearn.search.synonyms import Synonyms
from panlearn.search.validation import check_facet_values, check_paging, check_query


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One result, with what a result list shows; `snippet` is safe HTML."""

    doc_id: str
    kind: str
    title: str
    url: str
    course_slug: str
    course_title: str
    lesson_id: int | None
    status: str
    techniques: tuple[str, ...]
    facility: str
    level: str
    # None when browsing without a query: the order is then the catalogue's.
    score: float | None
    snippet: str


@dataclass(frozen=True, slots=True)
class FacetCount:
    """How many results carry one facet value (as the catalogue spells it)."""

    value: str
    count: int


@dataclass(frozen=True, slots=True)
class SearchResult:
    """One page of results, the total, facet counts and a spelling suggestion."""

    query: str
    hits: list[SearchHit]
    total: int
    page: int
    per_page: int
    facets: dict[str, list[FacetCount]] = field(default_factory=dict)
    # The whole query with misspelled words replaced, or None.
    suggestion: str | None = None

    @property
    def pages(self) -> int:
        """How many pages the total fills (at least one, possibly empty)."""
        return max(1, math.ceil(self.total / self.per_page))


def search(
    index: Index,
    q: str | None,
    *,
    viewer: Viewer,
    technique: str | Sequence[str] | None = None,
    facility: str | Sequence[str] | None = None,
    level: str | Sequence[str] | None = None,
    kind: str | Sequence[str] | None = None,
    page: int = 1,
    per_page: int = 10,
    synonyms: Synonyms | None = None,
) -> SearchResult:
    """Search what `viewer` may see; an empty `q` lists everything, for browsing.

    `q` supports words (all must match), `"phrases"`, prefixes (`diffract*`),
    field queries (`technique:SANS`, `title:bragg`), `OR`, `NOT`, `-word` and
    parentheses. Facet filters take one value or several (any of them
    matches) and ignore case. Facet counts are over the filtered query.
    `synonyms` lets technique and facility filters and field queries take
    short names (`technique:SANS`, `facility="PSI"`).

    Raises `InvalidInputError` for bad syntax or parameters.
    """
    text = check_query(q)
    check_paging(page, per_page)
    synonyms = synonyms or Synonyms()
    facet_values = {
        "technique": check_facet_values(
            "technique", synonyms.expand_filter("technique", technique)
        ),
        "facility": check_facet_values("facility", synonyms.expand_filter("facility", facility)),
        "level": check_facet_values("level", level),
        "kind": check_facet_values("kind", kind, allowed=KINDS),
    }
    filters = [facet_filter(name, values) for name, values in facet_values.items()]
    filter_query = wq.And([visibility_filter(viewer), *(f for f in filters if f is not None)])

    with index.searcher() as searcher:
        sets = document_sets(searcher, index.path)
        sets.new_query()
        # Which documents match, as one boolean per document, from the posting
        # lists in bulk: the exact total and facet counts, without scoring.
        allowed = sets.docset(filter_query)
        first, limit = (page - 1) * per_page, page * per_page
        if text:
            user_query = synonyms.expand_query(parse_query(searcher, text))
            matched = sets.docset(user_query) & allowed
            total = int(np.count_nonzero(matched))
            # Only the page is scored and ranked.
            page_docs = rank_page(searcher, sets, user_query, matched, total, first, limit)
            terms = positive_terms(user_query, searcher.reader()) if page_docs else {}
            holders = {
                name: sets.holders(name, terms[name]) for name in SNIPPET_FIELDS if terms.get(name)
            }
        else:
            matched = allowed
            total = int(np.count_nonzero(matched))
            browse = sets.browse_order
            page_docs = [(None, int(d)) for d in browse[matched[browse]][first:limit]]
            terms, holders = {}, {}
        hits = [
            _hit(searcher, docnum, score, terms, [n for n, docs in holders.items() if docs[docnum]])
            for score, docnum in page_docs
        ]
        facets = _facet_counts(sets.facet_docs, matched)
        suggestion = suggest(searcher, text) if text else None

    return SearchResult(
        query=text,
        hits=hits,
        total=total,
        page=page,
        per_page=per_page,
        facets=facets,
        suggestion=suggestion,
    )


def _hit(
    searcher: Searcher,
    docnum: int,
    score: float | None,
    terms: dict[str, set[str]],
    snippet_fields: list[str],
) -> SearchHit:
    stored = searcher.stored_fields(docnum)
    return SearchHit(
        doc_id=stored["doc_id"],
        kind=stored.get("kind_label", ""),
        title=stored.get("title", ""),
        url=stored.get("url", ""),
        course_slug=stored.get("course_slug", ""),
        course_title=stored.get("course_title", ""),
        lesson_id=stored.get("lesson_id"),
        status=stored.get("status", ""),
        techniques=tuple(v for v in stored.get("technique_label", "").split(",") if v),
        facility=stored.get("facility_label", ""),
        level=stored.get("level_label", ""),
        score=score,
        snippet=snippet(searcher, stored, terms, snippet_fields),
    )


def _facet_counts(
    facet_docs: dict[str, list[tuple[str, np.ndarray]]], matched: np.ndarray
) -> dict[str, list[FacetCount]]:
    """Count each facet value over the matched documents, most frequent first."""
    facets: dict[str, list[FacetCount]] = {}
    for name, values in facet_docs.items():
        counts = [
            FacetCount(label, int(np.count_nonzero(docs & matched))) for label, docs in values
        ]
        counts = [facet for facet in counts if facet.count]
        counts.sort(key=lambda facet: (-facet.count, facet.value.casefold()))
        facets[name] = counts
    return facets

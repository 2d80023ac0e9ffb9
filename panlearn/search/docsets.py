"""Which documents match: queries evaluated as numpy boolean arrays over the index.

A document set is one boolean per document number of a searcher.
`DocumentSets.docset` evaluates a query's boolean structure on them, reading
each term's posting list in bulk (from the segments' numpy postings files,
see `bulk`, or decoded from whoosh's blocks, see `blocks`); it is what gives
search its exact totals and facet counts without scoring every match. The
oracle tests check every query shape against whoosh's own matching.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

import numpy as np
from whoosh import query as wq
from whoosh.searching import Searcher

from panlearn.search.blocks import decode_postings
from panlearn.search.bulk import SegmentPostings, TermPostings
from panlearn.search.schema import FACETS

log = logging.getLogger(__name__)


class DocumentSets:
    """What every query needs and only a commit changes: built once per generation."""

    # Filter terms (status, organisation, facet values) recur in every request.
    FILTER_FIELDS = frozenset({"status", "organisation_slug", *FACETS})
    FILTER_CACHE_SIZE = 512

    def __init__(self, searcher: Searcher, folder: Path) -> None:
        self.searcher = searcher
        reader = searcher.reader()
        self.size = reader.doc_count_all()
        self.leaves: list[tuple[Any, int]] = [
            (leaf.reader(), offset) for leaf, offset in searcher.leaf_searchers()
        ]
        # Each segment's numpy postings file (bulk.py); None for a segment written
        # without one, whose posting lists are then decoded from whoosh's blocks.
        self.bulk: list[SegmentPostings | None] = [
            SegmentPostings.open(folder, leaf.segment()) for leaf, _ in self.leaves
        ]
        missing = sum(
            1
            for (leaf, _), bulk in zip(self.leaves, self.bulk, strict=True)
            if bulk is None and leaf.doc_count_all()
        )
        if missing:
            log.warning(
                "search index at %s: %d segment(s) written without a postings file are "
                "searched the slow way; `flask search rebuild` gives them one",
                folder,
                missing,
            )
        live = np.ones(self.size, dtype=bool)
        for leaf, offset in self.leaves:
            if leaf.has_deletions():
                live[offset : offset + leaf.doc_count_all()] = False
                live[np.fromiter(leaf.all_doc_ids(), dtype=np.int64) + offset] = True
        self.live = live
        self._filter_sets: dict[tuple[str, bytes], np.ndarray] = {}
        # Phrase matches of the current query, for both matching and scoring.
        self._phrases: dict[tuple[str, tuple[str, ...], int], np.ndarray] = {}
        self._lengths: dict[str, np.ndarray] = {}
        # Facet name → [(label as written, its documents)].
        self.facet_docs: dict[str, list[tuple[str, np.ndarray]]] = {
            name: [
                (term.decode("utf-8"), self.term_docs(f"{name}_label", term))
                for term in reader.lexicon(f"{name}_label")
            ]
            for name in FACETS
        }
        live_docs = np.flatnonzero(live).tolist()
        if live_docs:  # an empty index (new, or just recreated) has no columns to read
            live_docs.sort(key=reader.column_reader("order_key").__getitem__)
        # Every document in catalogue order (courses first, then by course and position).
        self.browse_order = np.array(live_docs, dtype=np.int64)
        # Document → its place in that order (deleted documents last), for ranking ties.
        self.rank = np.full(self.size, self.size, dtype=np.int64)
        self.rank[self.browse_order] = np.arange(len(self.browse_order))

    def term_docs(self, fieldname: str, text: str | bytes) -> np.ndarray:
        """The live documents holding one term."""
        btext = text if isinstance(text, bytes) else text.encode("utf-8")
        key = (fieldname, btext)
        cached = self._filter_sets.get(key)
        if cached is not None:
            return cached
        docs = np.zeros(self.size, dtype=bool)
        for ids, _ in self.postings(fieldname, btext, weights=False):
            docs[ids] = True
        docs &= self.live
        if fieldname in self.FILTER_FIELDS:
            if len(self._filter_sets) >= self.FILTER_CACHE_SIZE:
                self._filter_sets.clear()
            self._filter_sets[key] = docs
        return docs

    def new_query(self) -> None:
        """Forget the last query's phrase matches (only filters are kept between queries)."""
        self._phrases.clear()

    def postings(
        self, fieldname: str, btext: bytes, *, weights: bool = True
    ) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        """A term's document numbers (in the searcher) and weights, segment by segment.

        From the segments' postings files when they have one; otherwise
        decoded from whoosh's blocks (weights only when asked for).
        """
        for (leaf, offset), bulk in zip(self.leaves, self.bulk, strict=True):
            if bulk is not None and bulk.has_field(fieldname):
                found = bulk.term(fieldname, btext)
                if found is not None:
                    yield found.ids.astype(np.int64) + offset, found.weights
            elif (fieldname, btext) in leaf:
                ids, term_weights = decode_postings(
                    leaf.postings(fieldname, btext), weights=weights
                )
                yield ids + offset, term_weights

    def field_lengths(self, fieldname: str) -> np.ndarray:
        """Every document's length in one field, as whoosh's BM25F reads it (quantised)."""
        lengths = self._lengths.get(fieldname)
        if lengths is None:
            lengths = np.ones(self.size, dtype=np.float64)
            for leaf, offset in self.leaves:
                for docnum in range(leaf.doc_count_all()):
                    lengths[offset + docnum] = leaf.doc_field_length(docnum, fieldname, 1) or 1
            self._lengths[fieldname] = lengths
        return lengths

    def holders(self, fieldname: str, terms: set[str]) -> np.ndarray:
        """The documents holding any of `terms` in one field (where a snippet can be cut)."""
        docs = np.zeros(self.size, dtype=bool)
        for term in terms:
            for ids, _ in self.postings(fieldname, term.encode("utf-8"), weights=False):
                docs[ids] = True
        return docs

    def docset(self, query: wq.Query) -> np.ndarray:
        """The live documents `query` matches, as whoosh would match them."""
        if isinstance(query, wq.Term):
            return self.term_docs(query.fieldname, query.text)
        if isinstance(query, (wq.And, wq.Or)) and not getattr(query, "minmatch", 0):
            children = [self.docset(child) for child in query.subqueries]
            if not children:
                return np.zeros(self.size, dtype=bool)
            combined = children[0].copy()
            for child in children[1:]:
                if isinstance(query, wq.And):
                    combined &= child
                else:
                    combined |= child
            return combined
        if isinstance(query, wq.AndNot):
            return self.docset(query.a) & ~self.docset(query.b)
        if isinstance(query, wq.AndMaybe):
            return self.docset(query.a)
        if isinstance(query, wq.Require):
            return self.docset(query.a) & self.docset(query.b)
        if isinstance(query, wq.Not):
            return self.live & ~self.docset(query.query)
        if isinstance(query, wq.Every) and not query.fieldname:
            return self.live.copy()
        if isinstance(query, wq.NullQuery.__class__):
            return np.zeros(self.size, dtype=bool)
        if isinstance(query, wq.MultiTerm):  # prefixes, wildcards
            docs = np.zeros(self.size, dtype=bool)
            for fieldname, text in query.expanded_terms(self.searcher.reader()):
                docs |= self.term_docs(fieldname, text)
            return docs
        if isinstance(query, wq.Phrase):
            found = self.phrase_docs(query)
            if found is not None:
                return found
        # Anything else (phrases with a slop...): whoosh's own matcher.
        docs = np.zeros(self.size, dtype=bool)
        found = np.fromiter(self.searcher.docs_for_query(query), dtype=np.int64)
        docs[found] = True
        return docs & self.live

    def phrase_docs(self, phrase: wq.Phrase) -> np.ndarray | None:
        """The live documents holding the phrase's words at consecutive positions.

        Matches what whoosh's phrase matcher finds (slop 1: word i at the
        first word's position + i), but over whole position arrays with numpy
        instead of document by document. None when it cannot: a slop other
        than 1, or a segment without a postings file.
        """
        key = (phrase.fieldname, tuple(phrase.words), phrase.slop)
        cached = self._phrases.get(key)
        if cached is not None:
            return cached
        schema = self.searcher.schema
        if phrase.slop != 1 or phrase.fieldname not in schema or None in self.bulk:
            return None
        field = schema[phrase.fieldname]
        words = [field.to_bytes(word) for word in phrase.words]
        docs = np.zeros(self.size, dtype=bool)
        for (_, offset), bulk in zip(self.leaves, self.bulk, strict=True):
            postings = [bulk.term(phrase.fieldname, word) for word in words]  # type: ignore[union-attr]
            if not postings or any(p is None or p.positions is None for p in postings):
                continue
            docs[_phrase_matches(postings) + offset] = True  # type: ignore[arg-type]
        docs &= self.live
        self._phrases[key] = docs
        return docs


def _phrase_matches(postings: list[TermPostings]) -> np.ndarray:
    """Segment document numbers where word i occurs at some start position + i.

    Each word's occurrences in the documents holding every word become
    `(document, position - i)` keys; a phrase starts wherever all words share
    a key.
    """
    candidates = postings[0].ids
    for other in postings[1:]:
        candidates = np.intersect1d(candidates, other.ids, assume_unique=True)
    if not len(candidates):
        return np.zeros(0, dtype=np.int64)
    starts: np.ndarray | None = None
    for i, term in enumerate(postings):
        docs, positions = _occurrences(term, candidates)
        keep = positions >= i
        keys = (docs[keep] << 32) | (positions[keep] - i)
        starts = keys if starts is None else np.intersect1d(starts, keys, assume_unique=True)
        if not len(starts):
            break
    assert starts is not None
    return np.unique(starts >> 32)


def _occurrences(term: TermPostings, docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every `(document, position)` of a term in `docs` (all of which hold it), flattened."""
    assert term.pstarts is not None and term.positions is not None
    rows = np.searchsorted(term.ids, docs)
    begins = term.pstarts[rows].astype(np.int64)
    counts = term.pstarts[rows + 1].astype(np.int64) - begins
    # Index of each occurrence in `positions`: its run's begin + its rank in the run.
    ends = np.cumsum(counts)
    flat = np.arange(int(ends[-1])) + np.repeat(begins - (ends - counts), counts)
    return (
        np.repeat(docs.astype(np.int64), counts),
        term.positions[flat].astype(np.int64),
    )


_SETS: WeakKeyDictionary[Searcher, DocumentSets] = WeakKeyDictionary()


def document_sets(searcher: Searcher, folder: Path) -> DocumentSets:
    """The searcher's `DocumentSets`, built on first use (one per index generation)."""
    sets = _SETS.get(searcher)
    if sets is None:
        sets = _SETS[searcher] = DocumentSets(searcher, folder)
    return sets

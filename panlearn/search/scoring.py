"""BM25F scores of every document at once, as whoosh computes them, with numpy.

whoosh scores the matches of a query one at a time in Python; for the
queries a search box produces (terms and phrases joined by AND, OR and AND
NOT) the same sum is taken here over whole posting lists. The oracle tests
compare every score with whoosh's own.
"""

from __future__ import annotations

import numpy as np
from whoosh import query as wq

from panlearn.search.docsets import DocumentSets

# whoosh's default weighting (BM25F) and its parameters.
BM25_B = 0.75
BM25_K1 = 1.2


def bm25f_scores(sets: DocumentSets, query: wq.Query) -> np.ndarray | None:
    """BM25F scores of every document for `query`, as whoosh computes them.

    For queries of terms joined by AND, OR and AND NOT (what a plain query
    parses to), whoosh's score of a match is the sum, over the positive
    terms it holds, of `bm25(idf, weight, field length) * boost`; here
    that sum is taken over whole posting lists with numpy instead of
    per document in Python. None for anything else (prefixes, phrases with
    a slop), which whoosh then scores itself.
    """
    if isinstance(query, wq.Term):
        return _term_scores(sets, query)
    if isinstance(query, (wq.And, wq.Or)):
        if getattr(query, "minmatch", 0) or getattr(query, "scale", None) or query.boost != 1:
            return None
        total = np.zeros(sets.size, dtype=np.float64)
        for child in query.subqueries:
            child_scores = bm25f_scores(sets, child)
            if child_scores is None:
                return None
            total += child_scores
        return total
    if isinstance(query, wq.AndNot):
        return bm25f_scores(sets, query.a)
    if isinstance(query, wq.Phrase):
        return _phrase_scores(sets, query)
    if isinstance(query, wq.Not):  # whoosh's InverseMatcher scores every match 1.0
        return np.ones(sets.size, dtype=np.float64)
    return None


def _phrase_scores(sets: DocumentSets, phrase: wq.Phrase) -> np.ndarray | None:
    """Whoosh's phrase score: the sum of its words' BM25F scores, times its boost.

    (whoosh scores a phrase match as the intersection of its terms.) Zero
    where the phrase does not occur, so an OR of phrases adds up right.
    """
    matches = sets.phrase_docs(phrase)
    if matches is None:
        return None
    total = np.zeros(sets.size, dtype=np.float64)
    for word in phrase.words:
        word_scores = _term_scores(sets, wq.Term(phrase.fieldname, word))
        if word_scores is None:
            return None
        total += word_scores
    total[~matches] = 0.0
    return total * phrase.boost


def _term_scores(sets: DocumentSets, term: wq.Term) -> np.ndarray | None:
    searcher = sets.searcher
    fieldname = term.fieldname
    btext = term.text if isinstance(term.text, bytes) else term.text.encode("utf-8")
    scores = np.zeros(sets.size, dtype=np.float64)
    field = searcher.schema[fieldname] if fieldname in searcher.schema else None
    if field is None or not field.scorable:
        return None
    if (fieldname, btext) not in searcher.reader():
        return scores
    text = term.text if isinstance(term.text, str) else term.text.decode("utf-8")
    idf = searcher.idf(fieldname, text)
    avgfl = searcher.avg_field_length(fieldname) or 1
    lengths = sets.field_lengths(fieldname)
    for ids, weights in sets.postings(fieldname, btext):
        tf = weights.astype(np.float64)  # type: ignore[union-attr]
        fl = lengths[ids]
        norm = (1 - BM25_B) + BM25_B * fl / avgfl
        scores[ids] = idf * ((tf * (BM25_K1 + 1)) / (tf + BM25_K1 * norm))
    scores[~sets.live] = 0.0
    return scores * term.boost

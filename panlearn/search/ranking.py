"""Ranking one page of matches: best score first, ties in catalogue order.

Only the page is ranked, not every match: with numpy scores (see
`scoring`) the page and everything tied with its edges are picked out with
a partition; otherwise whoosh's top-N collector finds them. Both then go
through the one ordering, `_page`.
"""

from __future__ import annotations

import numpy as np
from whoosh import query as wq
from whoosh.searching import Searcher

from panlearn.search.docsets import DocumentSets
from panlearn.search.scoring import bm25f_scores

# Scores equal to this many decimals tie, and ties go to catalogue order.
SCORE_DIGITS = 4


def rank_page(
    searcher: Searcher,
    sets: DocumentSets,
    query: wq.Query,
    matched: np.ndarray,
    total: int,
    first: int,
    limit: int,
) -> list[tuple[float, int]]:
    """The `(score, document number)` pairs of the page `[first:limit]` of `matched`."""
    if not total or first >= total:
        return []
    scores = bm25f_scores(sets, query)
    if scores is not None:
        docnums = np.flatnonzero(matched)
        return _page(docnums, scores[docnums], sets.rank, first, limit)
    docnums, top_scores = _whoosh_top(searcher, query, matched, total, limit)
    return _page(docnums, top_scores, sets.rank, first, limit)


def _whoosh_top(
    searcher: Searcher, query: wq.Query, matched: np.ndarray, total: int, limit: int
) -> tuple[np.ndarray, np.ndarray]:
    """The best matches by whoosh's own scoring, enough to rank the first `limit` exactly.

    whoosh's top-N collector skips blocks of postings that cannot reach the
    current N-th score. Scores tied (to SCORE_DIGITS) with the page's last
    one must all be seen, since ties go to catalogue order: when the N-th
    score still ties with the page's last, N grows and the search runs again.
    """
    allow = set(np.flatnonzero(matched).tolist())
    wanted = min(total, max(limit * 2, limit + 10))
    while True:
        top = searcher.search(query, filter=allow, limit=wanted).top_n
        if len(top) >= total or len(top) < wanted:
            break
        rounded = np.sort(np.round([score for score, _ in top], SCORE_DIGITS))
        page_bottom = rounded[len(top) - min(limit, len(top))]
        if rounded[0] < page_bottom:
            break
        wanted = min(total, wanted * 4)
    return (
        np.array([docnum for _, docnum in top], dtype=np.int64),
        np.array([score for score, _ in top], dtype=np.float64),
    )


def _page(
    docnums: np.ndarray, scores: np.ndarray, rank: np.ndarray, first: int, limit: int
) -> list[tuple[float, int]]:
    """Order by score, ties by catalogue order; return the page `[first:limit]`.

    Scores equal to SCORE_DIGITS decimals tie: deleted-but-unmerged documents
    nudge BM25 statistics in the last digits, and an incrementally updated
    index must order results as a rebuilt one does. Only the page and the
    scores tied with its edges are given sort keys.
    """
    rounded = np.round(scores, SCORE_DIGITS)
    if len(docnums) > limit:
        # Everything tied with the page's last score comes along.
        bottom = np.partition(rounded, len(rounded) - limit)[len(rounded) - limit]
        keep = rounded >= bottom
        docnums, scores, rounded = docnums[keep], scores[keep], rounded[keep]
    # Best score first; ties in catalogue order.
    order = np.lexsort((rank[docnums], -rounded))
    return [(float(scores[i]), int(docnums[i])) for i in order[first:limit]]

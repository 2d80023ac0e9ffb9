"""Decoding a whoosh posting list in bulk, for segments without a numpy postings file.

whoosh's matchers step one posting at a time in Python; its block format
(whoosh3: delta-coded ids, 128 per block) decodes much faster a block at a
time. This reads the leaf matcher's block attributes, which are whoosh's
internals: the one place that does, so a whoosh upgrade is checked here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.matching.wrappers import FilterMatcher


def decode_postings(matcher: Any, *, weights: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Document numbers of a posting list, and its weights (term frequencies) when asked.

    Deleted documents are included: the caller masks them with its `live` array.
    Falls back to stepping for any matcher other than whoosh3's leaf matcher.
    """
    if isinstance(matcher, FilterMatcher):  # deletions: masked by `live` instead
        matcher = matcher.child
    ids: list[np.ndarray] = []
    term_weights: list[np.ndarray] = []
    if isinstance(matcher, W3LeafMatcher) and not matcher._byteids:
        while matcher.is_active():
            if matcher._data is None:
                matcher._read_data()
            if weights and matcher._weights is None:
                matcher._read_weights()
            ids.append(np.cumsum(np.asarray(matcher._data[0], dtype=np.int64)))
            if weights:
                term_weights.append(np.asarray(matcher._weights, dtype=np.float64))
            matcher._next_block()
    elif not weights:
        return np.fromiter(matcher.all_ids(), dtype=np.int64), None
    else:
        pairs = []
        while matcher.is_active():
            pairs.append((matcher.id(), matcher.weight()))
            matcher.next()
        if pairs:
            ids.append(np.array([p[0] for p in pairs], dtype=np.int64))
            term_weights.append(np.array([p[1] for p in pairs], dtype=np.float64))
    all_ids = np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64)
    if not weights:
        return all_ids, None
    all_weights = np.concatenate(term_weights) if term_weights else np.zeros(0, dtype=np.float64)
    return all_ids, all_weights

"""The fast paths of `search` agree with whoosh's own matching and with scoring everything."""

from __future__ import annotations

import numpy as np
import pytest

from panlearn.search import Index, Viewer, search
from panlearn.search.docsets import document_sets
from panlearn.search.parsing import parse_query
from panlearn.search.scoring import bm25f_scores

from .conftest import catalogue, make_doc, with_changes

QUERIES = [
    "intensity",
    "scattering",
    "neutron detector",
    "intensity OR sinogram",
    "intensity NOT h5py",
    "intensity -h5py",
    "NOT intensity",
    "diffract*",
    "two_theta",
    "h5py.File",
    '"radius of gyration"',
    '"filtered back projection"',
    '"gyration radius"',
    '"import h5py"',
    '"two theta"',
    '"neutron peaks" OR "powder pattern"',
    'title:"bragg peaks"',
    "technique:SANS",
    "title:bragg OR code:iradon",
    "(peak OR peaks) AND NOT lattice",
    "nothingmatches",
]


@pytest.fixture
def edited_index(index: Index) -> Index:
    """The catalogue with deletions in an older segment, so `live` matters."""
    docs = catalogue()
    index.upsert(docs)
    index.upsert([with_changes(docs[1], markdown="Rewritten: intensity of neutron peaks.")])
    index.delete(["lesson:3"])
    return index


@pytest.mark.parametrize("q", QUERIES)
def test_docset_matches_whoosh(edited_index: Index, q: str) -> None:
    with edited_index.searcher() as searcher:
        query = parse_query(searcher, q)
        expected = set(searcher.docs_for_query(query))
        sets = document_sets(searcher, edited_index.path)
        got = set(np.flatnonzero(sets.docset(query)).tolist())
    assert got == expected, q


def test_page_ranking_equals_scoring_everything(index: Index) -> None:
    # Forty identical lessons tie on score: pages must follow catalogue order
    # exactly as when every match is scored, however the top-N search cuts.
    index.upsert(
        [make_doc(f"lesson:{n}", title=f"Tie {n:02d}", markdown="bragg peak", position=n)
         for n in range(40)]
        + [make_doc("lesson:best", title="Bragg peak", markdown="bragg peak bragg", position=99)]
    )
    viewer = Viewer()
    everything = search(index, "bragg", viewer=viewer, per_page=100).hits
    assert everything[0].doc_id == "lesson:best"
    for per_page in (1, 3, 7, 10):
        pages = [
            hit.doc_id
            for page in range(1, 41 // per_page + 2)
            for hit in search(index, "bragg", viewer=viewer, per_page=per_page, page=page).hits
        ]
        assert pages == [hit.doc_id for hit in everything], per_page


@pytest.mark.parametrize("q", QUERIES)
def test_vectorised_scores_equal_whooshs(edited_index: Index, q: str) -> None:
    with edited_index.searcher() as searcher:
        query = parse_query(searcher, q)
        scores = bm25f_scores(document_sets(searcher, edited_index.path), query)
        if scores is None:
            pytest.skip("scored by whoosh itself")
        expected = {docnum: score for score, docnum in searcher.search(query, limit=None).top_n}
    for docnum, score in expected.items():
        assert scores[docnum] == pytest.approx(score, rel=1e-9), (q, docnum)

"""The bulk segment writer writes what whoosh's writer writes, plus a faithful numpy copy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from whoosh.filedb.filestore import FileStorage
from whoosh.writing import SegmentWriter

from panlearn.search import Index, Viewer, search
from panlearn.search.bulk import POSTINGS_EXT, BulkSegmentWriter, SegmentPostings
from panlearn.search.schema import build_schema, document_fields

from .conftest import catalogue, make_doc, with_changes

WORDS = "bragg peak intensity detector neutron scattering sample radius gyration".split()


def many_docs(count: int) -> list[Any]:
    """Enough lessons that common terms span several 128-posting blocks."""
    return [
        make_doc(
            f"lesson:{n}",
            title=f"Lesson {n} {WORDS[n % len(WORDS)]}",
            markdown=" ".join(WORDS[(n + i) % len(WORDS)] for i in range(n % 7 + 3)),
            code=f"peak_{n % 5} = find_peaks(intensity)\nradius = fit(q, n={n})",
            position=n,
        )
        for n in range(count)
    ] + catalogue()


def write(path: Path, writer_class: type, docs: list[Any]) -> Any:
    path.mkdir(parents=True)
    ix = FileStorage(str(path)).create_index(build_schema())
    writer = writer_class(ix)
    for doc in docs:
        writer.add_document(**document_fields(doc))
    writer.commit()
    return ix


def postings_of(reader: Any) -> dict[tuple[str, bytes], tuple[Any, ...]]:
    """Every term's statistics and postings, as whoosh reads them back."""
    out = {}
    for fieldname, text in reader.all_terms():
        info = reader.term_info(fieldname, text)
        matcher = reader.postings(fieldname, text)
        postings = []
        while matcher.is_active():
            # An inlined posting list reads an empty value as "" rather than None.
            postings.append((matcher.id(), matcher.weight(), matcher.value() or b""))
            matcher.next()
        stats = (
            info.weight(),
            info.doc_frequency(),
            info.min_length(),
            info.max_length(),
            info.max_weight(),
            info.min_id(),
            info.max_id(),
        )
        out[(fieldname, text)] = (stats, postings)
    return out


def assert_postings_file_matches(folder: Path, reader: Any) -> None:
    """Each segment's postings file holds exactly the segment's posting lists."""
    for leaf, _ in reader.leaf_readers():
        bulk = SegmentPostings.open(folder, leaf.segment())
        assert bulk is not None
        schema = leaf.schema
        for fieldname, text in leaf.all_terms():
            if fieldname == "words":  # the spelling vocabulary stays out (see WordsField)
                assert not bulk.has_field(fieldname)
                continue
            found = bulk.term(fieldname, text)
            assert found is not None, (fieldname, text)
            matcher = leaf.postings(fieldname, text)
            expected = []
            while matcher.is_active():
                expected.append((matcher.id(), matcher.weight(), matcher.value()))
                matcher.next()
            # Deletions are marked on a segment later; the file keeps those postings.
            live = [i for i, docnum in enumerate(found.ids.tolist()) if not leaf.is_deleted(docnum)]
            assert found.ids[live].tolist() == [p[0] for p in expected], (fieldname, text)
            assert np.allclose(found.weights[live], [p[1] for p in expected])
            if found.pstarts is not None:
                decode = schema[fieldname].format.decode_positions
                for i, (_, _, value) in zip(live, expected, strict=True):
                    positions = found.positions[found.pstarts[i] : found.pstarts[i + 1]]
                    assert positions.tolist() == decode(value), (fieldname, text)


def test_segments_hold_the_same_postings_as_whooshs_writer(tmp_path: Path) -> None:
    docs = many_docs(400)
    plain = write(tmp_path / "plain", SegmentWriter, docs)
    bulk = write(tmp_path / "bulk", BulkSegmentWriter, docs)
    with plain.reader() as expected, bulk.reader() as got:
        assert postings_of(got) == postings_of(expected)
        assert max(len(postings) for _, postings in postings_of(got).values()) > 128
        assert [got.stored_fields(n) for n in range(len(docs))] == [
            expected.stored_fields(n) for n in range(len(docs))
        ]
        for fieldname in ("title", "markdown", "code"):
            assert got.field_length(fieldname) == expected.field_length(fieldname)
        assert_postings_file_matches(tmp_path / "bulk", got)


def test_merged_segments_get_a_postings_file_and_old_ones_go(tmp_path: Path) -> None:
    index = Index.open_or_create(tmp_path / "ix")
    docs = many_docs(60)
    for start in range(0, len(docs), 7):  # many small commits, so whoosh merges segments
        index.upsert(docs[start : start + 7])
    index.upsert([with_changes(docs[3], markdown="rewritten bragg")])
    index.delete(["lesson:5"])
    with index.searcher() as searcher:
        reader = searcher.reader()
        assert_postings_file_matches(tmp_path / "ix", reader)
        segments = {leaf.segment().make_filename(POSTINGS_EXT) for leaf, _ in reader.leaf_readers()}
    assert {p.name for p in (tmp_path / "ix").glob(f"*{POSTINGS_EXT}")} == segments


def test_segments_without_a_postings_file_are_still_searched(tmp_path: Path) -> None:
    docs = catalogue()
    plain = write(tmp_path / "plain", SegmentWriter, docs)
    assert not list((tmp_path / "plain").glob(f"*{POSTINGS_EXT}"))
    del plain
    fallback = Index.open_or_create(tmp_path / "plain")
    bulk = Index.open_or_create(tmp_path / "bulk")
    bulk.rebuild(docs)
    viewer = Viewer(role="admin", organisation_slug="esrf")
    for q in ("intensity", '"radius of gyration"', "diffract*", "peak NOT lattice", ""):
        expected, got = search(bulk, q, viewer=viewer), search(fallback, q, viewer=viewer)
        assert [(h.doc_id, h.snippet) for h in got.hits] == [
            (h.doc_id, h.snippet) for h in expected.hits
        ], q
        assert [h.score for h in got.hits] == pytest.approx([h.score for h in expected.hits])
        assert (got.total, got.facets) == (expected.total, expected.facets), q


def test_an_empty_index_is_searched(index: Index) -> None:
    result = search(index, '"radius of gyration" peak', viewer=Viewer())
    assert (result.total, result.hits) == (0, [])
    assert search(index, "", viewer=Viewer()).total == 0

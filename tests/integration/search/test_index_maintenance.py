"""Upsert, delete, rebuild: the index stays true to the documents it was given."""

from __future__ import annotations

from pathlib import Path

from whoosh.fields import ID, Schema
from whoosh.filedb.filestore import FileStorage

from panlearn.search import Index, SearchDocument, Viewer, search

from .conftest import catalogue, make_doc, with_changes

ADMIN_ESRF = Viewer(role="admin", organisation_slug="esrf")
QUERIES = ["", "intensity", "scattering", "technique:SANS", "two_theta", "diffract*", "peak"]


def snapshot(index: Index) -> list[tuple[str, list[str], int, dict[str, object]]]:
    """What a user can observe: hits in order, totals and facets, for several queries."""
    observed = []
    for q in QUERIES:
        result = search(index, q, viewer=ADMIN_ESRF, per_page=50)
        facets = {
            name: [(f.value, f.count) for f in values] for name, values in result.facets.items()
        }
        observed.append((q, [hit.doc_id for hit in result.hits], result.total, facets))
    return observed


def test_upsert_replaces_a_document_with_the_same_id(catalogue_index: Index) -> None:
    [bragg] = [doc for doc in catalogue() if doc.doc_id == "lesson:3"]
    catalogue_index.upsert([with_changes(bragg, title="Laue spots", markdown="Laue camera")])
    assert catalogue_index.doc_count() == 8
    assert [h.doc_id for h in search(catalogue_index, "laue", viewer=ADMIN_ESRF).hits] == [
        "lesson:3"
    ]
    assert search(catalogue_index, "title:bragg", viewer=ADMIN_ESRF).total == 0


def test_upsert_of_the_same_id_twice_in_one_call_keeps_the_last(index: Index) -> None:
    index.upsert([make_doc("lesson:1", title="first"), make_doc("lesson:1", title="second")])
    assert index.doc_count() == 1
    assert search(index, "second", viewer=ADMIN_ESRF).total == 1


def test_publishing_a_draft_makes_it_visible(catalogue_index: Index) -> None:
    student = Viewer(role="student")
    assert search(catalogue_index, "sinogram", viewer=student).total == 0
    drafts = [doc for doc in catalogue() if doc.course_slug == "tomo"]
    catalogue_index.upsert([with_changes(doc, status="published") for doc in drafts])
    assert search(catalogue_index, "sinogram", viewer=student).total == 1


def test_delete_by_id_and_by_course(catalogue_index: Index) -> None:
    assert catalogue_index.delete(["lesson:1", "lesson:404"]) == 1
    assert "lesson:1" not in catalogue_index.doc_ids()
    assert catalogue_index.delete_course("xrd") == 3
    assert catalogue_index.doc_ids() == {"course:sans", "lesson:2", "course:tomo", "lesson:5"}
    assert catalogue_index.delete([]) == 0


def test_incremental_updates_give_the_same_results_as_a_rebuild(tmp_path: Path) -> None:
    final = {doc.doc_id: doc for doc in catalogue()}
    incremental = Index.open_or_create(tmp_path / "incremental")
    # Arrive one course at a time, with an edit, a removal and a stale lesson on the way.
    docs = list(final.values())
    incremental.upsert(docs[:3])
    incremental.upsert([make_doc("lesson:99", title="Old lesson", markdown="intensity peak")])
    incremental.upsert([with_changes(docs[1], title="Draft title", markdown="nothing")])
    incremental.upsert(docs[3:])
    incremental.upsert([docs[1]])
    incremental.delete(["lesson:99"])
    incremental.upsert([make_doc("lesson:98", course_slug="gone", title="Gone peak")])
    incremental.delete_course("gone")

    rebuilt = Index.open_or_create(tmp_path / "rebuilt")
    rebuilt.upsert([make_doc("lesson:97", title="Left over from before the rebuild")])
    progress: list[tuple[int, int | None]] = []
    assert rebuilt.rebuild(docs, progress=lambda done, total: progress.append((done, total))) == 8

    assert rebuilt.doc_ids() == incremental.doc_ids() == set(final)
    assert snapshot(incremental) == snapshot(rebuilt)
    assert progress[-1] == (8, 8)


def test_rebuild_accepts_a_generator_and_reports_unknown_total(index: Index) -> None:
    progress: list[tuple[int, int | None]] = []
    count = index.rebuild(
        (make_doc(f"lesson:{n}") for n in range(450)), progress=lambda *a: progress.append(a)
    )
    assert count == 450 == index.doc_count()
    assert progress == [(200, None), (400, None), (450, None)]


def test_rebuild_is_atomic_for_readers(catalogue_index: Index) -> None:
    def documents():  # type: ignore[no-untyped-def]
        yield make_doc("lesson:new", title="Brand new")
        # Mid-rebuild, readers still see the whole old index.
        assert search(catalogue_index, "", viewer=ADMIN_ESRF).total == 8
        yield make_doc("lesson:newer", title="Newer")

    catalogue_index.rebuild(documents())
    assert catalogue_index.doc_ids() == {"lesson:new", "lesson:newer"}


def test_an_index_with_an_old_schema_is_recreated(index_path: Path) -> None:
    index_path.mkdir(parents=True)
    FileStorage(str(index_path)).create_index(Schema(doc_id=ID(unique=True, stored=True)))
    index = Index.open_or_create(index_path)
    assert index.recreated
    index.upsert([make_doc("lesson:1", title="fresh")])
    again = Index.open_or_create(index_path)
    assert not again.recreated
    assert again.doc_ids() == {"lesson:1"}


def test_search_documents_reject_impossible_values() -> None:
    import pytest

    with pytest.raises(ValueError):
        make_doc("lesson:1", kind="video")
    with pytest.raises(ValueError):
        make_doc("lesson:1", status="archived")
    with pytest.raises(TypeError):
        make_doc("lesson:1", techniques="SANS")
    doc: SearchDocument = make_doc("lesson:1", techniques=["SANS", "SAXS"])
    assert doc.techniques == ("SANS", "SAXS")

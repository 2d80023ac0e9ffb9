"""Relevance, analysis and snippets against a real whoosh index."""

from __future__ import annotations

from panlearn.search import Index, Viewer, search

from .conftest import make_doc

STUDENT = Viewer(role="student", organisation_slug="ill")


def ids(index: Index, q: str, **kwargs: object) -> list[str]:
    return [hit.doc_id for hit in search(index, q, viewer=STUDENT, **kwargs).hits]  # type: ignore[arg-type]


def test_title_match_ranks_above_body_match(index: Index) -> None:
    index.upsert(
        [
            make_doc(
                "lesson:body",
                title="Data reduction",
                markdown="A long lesson. " * 40 + "Guinier plots come at the end.",
            ),
            make_doc("lesson:title", title="Guinier analysis", markdown="A short lesson."),
        ]
    )
    assert ids(index, "guinier") == ["lesson:title", "lesson:body"]


def test_phrase_in_a_title_ranks_above_the_same_phrase_in_a_body(index: Index) -> None:
    index.upsert(
        [
            make_doc(
                "lesson:body",
                title="Data reduction",
                markdown="A long lesson. " * 40 + "The radius of gyration comes at the end.",
            ),
            make_doc("lesson:title", title="Radius of gyration", markdown="A short lesson."),
            make_doc("lesson:apart", title="Gyration", markdown="A radius, then gyration."),
        ]
    )
    assert ids(index, '"radius of gyration"') == ["lesson:title", "lesson:body"]


def test_stemming_finds_other_forms_of_a_word(catalogue_index: Index) -> None:
    # "scattered" is only in lesson 2's text, "scattering" in the course summary.
    assert "lesson:2" in ids(catalogue_index, "scattering")
    assert "course:sans" in ids(catalogue_index, "scattered")


def test_identifiers_in_code_are_found_whole_and_by_parts(catalogue_index: Index) -> None:
    for query in ("two_theta", "two", "theta"):
        assert "lesson:1" in ids(catalogue_index, query), query
    for query in ("h5py.File", "h5py", "File"):
        assert ids(catalogue_index, query)[0] == "lesson:1", query
    assert ids(catalogue_index, "find_peaks") == ["lesson:3"]
    assert ids(catalogue_index, "peaks find_peaks") == ["lesson:3"]


def test_nexus_class_names_match_whole_and_by_camel_parts(index: Index) -> None:
    index.upsert([make_doc("lesson:nx", code="grp = f['entry'].create_group('NXdata')")])
    for query in ("NXdata", "nxdata", "NX", "data"):
        assert ids(index, query) == ["lesson:nx"], query


def test_phrase_prefix_and_field_queries(catalogue_index: Index) -> None:
    assert ids(catalogue_index, '"filtered back projection"') == []  # draft only
    assert ids(catalogue_index, '"radius of gyration"') == ["lesson:2"]
    assert ids(catalogue_index, '"gyration radius"') == []
    assert set(ids(catalogue_index, "diffract*")) >= {"course:xrd", "lesson:3"}
    assert set(ids(catalogue_index, "technique:SANS")) == {"course:sans", "lesson:1", "lesson:2"}
    assert ids(catalogue_index, "title:bragg") == ["lesson:3"]
    assert set(ids(catalogue_index, "intensity NOT h5py")) == {"lesson:2", "lesson:3"}
    assert set(ids(catalogue_index, "intensity -h5py")) == {"lesson:2", "lesson:3"}


def test_snippet_marks_matches_and_escapes_the_rest(index: Index) -> None:
    index.upsert([make_doc("lesson:x", title="Masks",
                           markdown="Use <script>alert(1)</script> & a mask if q < 0.1.")])
    [hit] = search(index, "mask", viewer=STUDENT).hits
    assert "<mark>mask</mark>" in hit.snippet
    # Snippets are plain text: tags are dropped, and what is left is escaped.
    assert "&amp;" in hit.snippet and "q &lt; 0.1" in hit.snippet
    assert "<script" not in hit.snippet and "script&gt;" not in hit.snippet


def test_hit_carries_what_a_result_list_shows(catalogue_index: Index) -> None:
    [hit] = search(catalogue_index, "Guinier", viewer=STUDENT).hits
    assert (hit.kind, hit.title, hit.course_slug, hit.lesson_id, hit.url) == (
        "lesson",
        "Radial averaging",
        "sans",
        2,
        "/x/lesson:2",
    )
    assert hit.course_title == "Small-angle neutron scattering"
    assert hit.score is not None and hit.score > 0
    assert "<mark>Guinier</mark>" in hit.snippet


def test_misspelled_word_gets_a_suggestion(catalogue_index: Index) -> None:
    result = search(catalogue_index, "guinier radis", viewer=STUDENT)
    assert result.total == 0
    assert result.suggestion == "guinier radius"
    assert search(catalogue_index, "difraction", viewer=STUDENT).suggestion == "diffraction"
    assert search(catalogue_index, "guinier radius", viewer=STUDENT).suggestion is None
    # Identifiers found only in code are not typos.
    assert search(catalogue_index, "iradon", viewer=STUDENT).suggestion is None


def test_suggestions_never_come_from_drafts(catalogue_index: Index) -> None:
    # "phantom" exists only in the ESRF draft; "phantm" must not reveal it.
    assert search(catalogue_index, "phantm", viewer=STUDENT).suggestion is None


def test_empty_query_browses_everything_visible_in_catalogue_order(
    catalogue_index: Index,
) -> None:
    result = search(catalogue_index, "", viewer=STUDENT, per_page=3)
    assert result.total == 6
    assert result.pages == 2
    assert [hit.doc_id for hit in result.hits] == ["course:xrd", "course:sans", "lesson:3"]
    assert all(hit.score is None for hit in result.hits)
    second = search(catalogue_index, None, viewer=STUDENT, per_page=3, page=2)
    assert [hit.doc_id for hit in second.hits] == ["lesson:4", "lesson:1", "lesson:2"]
    assert search(catalogue_index, "", viewer=STUDENT, per_page=3, page=5).hits == []

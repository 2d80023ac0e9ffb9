"""Facet counts, facet filters and draft visibility."""

from __future__ import annotations

import pytest

from panlearn.search import Index, Viewer, search

STUDENT = Viewer(role="student", organisation_slug="esrf")


def counts(result, facet: str) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return {entry.value: entry.count for entry in result.facets[facet]}


def test_facets_count_the_visible_results(catalogue_index: Index) -> None:
    result = search(catalogue_index, "", viewer=STUDENT)
    assert counts(result, "technique") == {
        "SANS": 3,
        "Neutron scattering": 1,
        "X-ray diffraction": 3,
        "Powder diffraction": 3,
    }
    assert counts(result, "facility") == {"ILL": 3, "ESRF": 3}
    assert counts(result, "level") == {"beginner": 3, "intermediate": 3}
    assert counts(result, "kind") == {"course": 2, "lesson": 3, "exercise": 1}
    # Most frequent first, ties alphabetical.
    assert [entry.value for entry in result.facets["kind"]] == ["lesson", "course", "exercise"]


def test_facets_count_over_the_filtered_query(catalogue_index: Index) -> None:
    result = search(catalogue_index, "intensity", viewer=STUDENT, facility="esrf")
    assert [hit.doc_id for hit in result.hits] == ["lesson:3"]
    assert result.total == 1
    assert counts(result, "facility") == {"ESRF": 1}
    assert counts(result, "technique") == {"X-ray diffraction": 1, "Powder diffraction": 1}


def test_filters_ignore_case_and_accept_several_values(catalogue_index: Index) -> None:
    assert search(catalogue_index, "", viewer=STUDENT, technique="sans").total == 3
    assert search(catalogue_index, "", viewer=STUDENT, technique="x-ray DIFFRACTION").total == 3
    both = search(catalogue_index, "", viewer=STUDENT, level=["Beginner", "intermediate"])
    assert both.total == 6
    assert search(catalogue_index, "", viewer=STUDENT, kind="exercise").total == 1
    assert search(catalogue_index, "", viewer=STUDENT, technique="nothing").total == 0
    combined = search(catalogue_index, "", viewer=STUDENT, technique="SANS", kind="course")
    assert [hit.doc_id for hit in combined.hits] == ["course:sans"]


@pytest.mark.parametrize(
    "viewer",
    [
        Viewer(),
        Viewer(role="student", organisation_slug="esrf"),
        Viewer(role="author", organisation_slug="ill"),
        Viewer(role="admin", organisation_slug="ill"),
        Viewer(role="author", organisation_slug=None),
    ],
    ids=["anonymous", "student-of-owner", "author-elsewhere", "admin-elsewhere", "no-org"],
)
def test_drafts_are_hidden_from_everyone_outside_the_owning_organisation(
    catalogue_index: Index, viewer: Viewer
) -> None:
    for q in ("", "tomography", "sinogram", "iradon", "technique:tomography"):
        result = search(catalogue_index, q, viewer=viewer)
        assert all(hit.status == "published" for hit in result.hits), q
        assert "Tomography" not in counts(result, "technique"), q
    assert search(catalogue_index, "", viewer=viewer).total == 6


@pytest.mark.parametrize("role", ["author", "admin", "Author"])
def test_drafts_are_visible_to_authors_and_admins_of_their_organisation(
    catalogue_index: Index, role: str
) -> None:
    viewer = Viewer(role=role, organisation_slug="esrf")
    result = search(catalogue_index, "sinogram", viewer=viewer)
    assert [hit.doc_id for hit in result.hits] == ["lesson:5"]
    assert result.hits[0].status == "draft"
    assert search(catalogue_index, "", viewer=viewer).total == 8
    assert counts(search(catalogue_index, "", viewer=viewer), "technique")["Tomography"] == 2

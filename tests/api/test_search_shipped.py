"""Search over the shipped courses as people type it: acronyms, short names, plain snippets."""

from __future__ import annotations

import pytest

from tests.web import tour as site

PSI_COURSES = {"imaging-and-tomography", "powder-diffraction", "reading-nexus",
               "small-angle-scattering"}


@pytest.fixture
def shipped(app):
    """The shipped courses and organisations, imported, published and indexed."""
    return site.populate(app)


def courses(client, **params) -> set[str]:
    response = client.get("/api/search", query_string={"kind": "course", "per_page": 50,
                                                        **params})
    assert response.status_code == 200, response.get_json()
    return {hit["course_slug"] for hit in response.get_json()["hits"]}


def test_technique_and_facility_queries_take_acronyms_and_short_names(client, shipped):
    sans = {"small-angle-scattering", "reading-nexus"}
    assert courses(client, q="technique:SANS") == sans
    assert courses(client, q="technique:sans") == sans
    assert courses(client, q='technique:"small angle neutron scattering"') == sans
    assert courses(client, q="technique:SAXS") == sans
    assert courses(client, q="technique:XAS") == {"spectroscopy"}
    assert courses(client, q="technique:STXM") == {"imaging-and-tomography"}
    assert courses(client, q="technique:PaNET01100") == {"powder-diffraction", "reading-nexus"}
    assert courses(client, q="facility:PSI") == PSI_COURSES
    assert courses(client, q="facility:SINQ") == PSI_COURSES
    assert courses(client, q="facility:APS") == {"spectroscopy"}
    assert courses(client, q="facility:ESRF") == {"fair-data-at-pan-facilities"}
    assert courses(client, q="facility:ILL") == set()  # an organisation without courses
    assert courses(client, q="technique:SANS facility:PSI") == sans


def test_technique_and_facility_filters_take_acronyms(client, shipped):
    assert courses(client, technique="SANS") == {"small-angle-scattering", "reading-nexus"}
    assert courses(client, technique="xas") == {"spectroscopy"}
    assert courses(client, facility="PSI") == PSI_COURSES
    assert courses(client, facility="IPNS") == {"spectroscopy"}
    assert courses(client, facility="PSI", technique="XAS") == set()
    # The facet counts still show the values as the catalogue writes them.
    facets = client.get("/api/search?technique=SANS").get_json()["facets"]["technique"]
    assert "small angle neutron scattering" in {facet["value"] for facet in facets}


@pytest.mark.parametrize("q", ["bragg", "wavelength", "lambda", "theta", "Guinier",
                               "d-spacing", "absorption edge", "sinogram", "NXdata", "units",
                               "time", "sin", "energy"])
def test_snippets_are_plain_text_without_maths_or_markdown(client, shipped, q):
    body = client.get("/api/search", query_string={"q": q, "per_page": 20}).get_json()
    assert body["hits"], q
    for hit in body["hits"]:
        snippet = hit["snippet"]
        assert "$" not in snippet and "#" not in snippet, (q, hit["title"], snippet)
        assert "\\" not in snippet and "](" not in snippet, snippet


def test_the_search_page_finds_by_acronym_and_shows_facets_beside_the_results(client,
                                                                              shipped):
    page = client.get("/search?q=technique:SANS").get_data(as_text=True)
    assert "Small-angle scattering" in page and "Reading PaN data" in page
    results, aside = page.index('aria-labelledby="results-heading"'), page.index('id="filters"')
    assert results < aside  # results first in reading order; the sidebar sits left on wide screens
    filtered = client.get("/search?q=&facility=PSI&kind=course").get_data(as_text=True)
    assert "4 results" in filtered

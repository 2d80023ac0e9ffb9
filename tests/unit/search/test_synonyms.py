"""Short names of techniques and facilities, from the content table and the organisations."""

from __future__ import annotations

from pathlib import Path

import pytest
from whoosh import query as wq

from panlearn.errors import InvalidInputError
from panlearn.search.synonyms import (
    build_synonyms,
    load_table,
    organisation_short_names,
)

CONTENT = Path(__file__).resolve().parents[3] / "content"
ORGANISATIONS = [("psi", "Paul Scherrer Institute (PSI)"),
                 ("anl", "Argonne National Laboratory (APS, IPNS)"),
                 ("diamond", "Diamond Light Source")]


@pytest.fixture
def synonyms():
    return build_synonyms(load_table(CONTENT / "synonyms.yml"), ORGANISATIONS,
                          [("PaNET01189", "small angle neutron scattering")])


def test_organisations_give_their_slug_and_the_short_names_in_parentheses():
    assert organisation_short_names("anl", "Argonne National Laboratory (APS, IPNS)") == [
        "anl", "APS", "IPNS"]


def test_short_names_stand_for_the_values_the_index_holds(synonyms):
    assert synonyms.values("technique", "SANS") == ("sans", "small angle neutron scattering")
    assert "x-ray absorption fine structure" in synonyms.values("technique", "xas")
    assert synonyms.values("technique", "PaNET01189")[1] == "small angle neutron scattering"
    assert synonyms.values("facility", "PSI")[1] == "paul scherrer institute (psi)"
    assert synonyms.values("facility", "SINQ")[1] == "paul scherrer institute (psi)"
    assert synonyms.values("facility", "IPNS")[1] == "argonne national laboratory (aps ipns)"
    assert synonyms.values("facility", "DLS")[1] == "diamond light source"
    # Unknown names and full names stand for themselves only.
    assert synonyms.values("technique", "neutron powder diffraction") == (
        "neutron powder diffraction",)
    assert synonyms.values("facility", "ESRF") == ("esrf",)  # not an organisation here


def test_filters_and_field_queries_are_expanded(synonyms):
    assert synonyms.expand_filter("facility", "PSI") == ["psi", "paul scherrer institute (psi)"]
    assert synonyms.expand_filter("level", "beginner") == "beginner"
    assert synonyms.expand_filter("technique", None) is None
    query = wq.And([wq.Term("technique", "sans"), wq.Term("title", "sans")])
    expanded = synonyms.expand_query(query)
    assert isinstance(expanded.subqueries[0], wq.Or)
    assert {t.text for t in expanded.subqueries[0].subqueries} == {
        "sans", "small angle neutron scattering"}
    assert expanded.subqueries[1] == wq.Term("title", "sans")  # prose is left alone


def test_a_malformed_table_is_an_error_and_a_missing_one_is_empty(tmp_path):
    (tmp_path / "bad.yml").write_text("techniques: [SANS]\n")
    with pytest.raises(InvalidInputError):
        load_table(tmp_path / "bad.yml")
    assert load_table(tmp_path / "none.yml") == {}

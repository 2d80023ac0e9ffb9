import json

import pytest

from panlearn.datasets.errors import InvalidFilterError
from panlearn.datasets.filters import Condition, Filter, Include, field, text, where_json


def test_equality_is_sent_plain_and_other_operators_nested():
    assert field("title").eq("x").to_json() == {"title": "x"}
    assert field("size").gt(0).to_json() == {"size": {"gt": 0}}
    assert field("value").between(1, 2).to_json() == {"value": {"between": [1, 2]}}
    assert field("pid").inq(["a", "b"]).to_json() == {"pid": {"inq": ["a", "b"]}}


def test_and_or_chains_flatten_into_one_list():
    clause = field("a").eq(1) & field("b").eq(2) & field("c").eq(3)
    assert clause.to_json() == {"and": [{"a": 1}, {"b": 2}, {"c": 3}]}
    either = (field("a").eq(1) | text("beam")) & field("b").neq(2)
    assert either.to_json() == {"and": [{"or": [{"a": 1}, {"text": "beam"}]}, {"b": {"neq": 2}}]}


def test_parameter_include_has_the_canonical_shape():
    include = Include.parameter("photon_energy", between=(880, 990), unit="eV")
    assert include.to_json() == {"relation": "parameters", "scope": {"where": {"and": [
        {"name": "photon_energy"}, {"value": {"between": [880, 990]}}, {"unit": "eV"}]}}}


def test_technique_terms_are_matched_on_pid_when_they_are_panet_ids():
    assert Include.technique("small angle neutron scattering").where.to_json() == {
        "name": "small angle neutron scattering"}
    purl = "http://purl.org/pan-science/PaNET/PaNET01189"
    assert Include.technique("PaNET01189").where.to_json() == {"pid": purl}
    assert Include.technique(purl).where.to_json() == {"pid": purl}


def test_nested_includes_and_scopes_render():
    include = Include("members", include=(Include("person"), Include("affiliation")))
    assert include.to_json() == {"relation": "members", "scope": {"include": [
        {"relation": "person"}, {"relation": "affiliation"}]}}
    assert Include.instrument(facility="ESS").to_json()["scope"] == {"where": {"facility": "ESS"}}
    assert Include.instrument().to_json() == {"relation": "instrument"}


def test_filter_dumps_compact_sorted_json_leaving_out_empty_parts():
    f = Filter(query="  ", limit=10, skip=0, order=[("title", "desc")], fields=["pid"])
    assert f.dumps() == '{"fields":["pid"],"limit":10,"order":["title DESC"]}'
    assert Filter().dumps() == "{}"
    built = Filter().and_where(field("a").eq(1)).and_where(field("b").eq(2)).page(5, 10)
    assert json.loads(built.dumps()) == {"where": {"and": [{"a": 1}, {"b": 2}]}, "limit": 5,
                                        "skip": 10}
    assert Filter(limit=1) == Filter(limit=1)  # usable as a value, e.g. a cache key


@pytest.mark.parametrize("make", [
    lambda: Filter(limit=-1),
    lambda: Filter(skip=1.5),
    lambda: Filter(limit=True),
    lambda: Filter(order=["title SIDEWAYS"]),
    lambda: Filter(fields=["a b"]),
    lambda: field("a b").eq(1),
    lambda: Condition("a", "near", 1),
    lambda: Condition("a", "between", [1]),
    lambda: Include("bad relation"),
])
def test_malformed_filters_are_refused_before_sending(make):
    with pytest.raises(InvalidFilterError) as caught:
        make()
    assert caught.value.status == 400


def test_relations_are_checked_against_the_data_model():
    Filter(include=(Include("files"),)).check_relations("Dataset")
    with pytest.raises(InvalidFilterError, match="Instrument has no relation 'files'"):
        Filter(include=(Include("files"),)).check_relations("Instrument")


def test_count_where_is_a_bare_object():
    assert where_json(field("type").eq("proposal")) == '{"type":"proposal"}'
    assert where_json(None) == "{}"

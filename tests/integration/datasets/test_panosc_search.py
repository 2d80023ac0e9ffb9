"""The PaNOSC client against a real local HTTP server answering from recorded data."""

from __future__ import annotations

import json

import pytest

from panlearn.datasets import service
from panlearn.datasets.errors import DatasetNotFoundError, PanoscBadRequestError
from panlearn.datasets.filters import Filter, Include, field, text


def test_free_text_query_returns_scored_results_best_first(make_client):
    client = make_client("provider1")
    result = client.search_datasets(Filter(query="dataset 3 provider", limit=10))
    scores = [d.score for d in result.value]
    assert result.value and not result.stale
    assert scores == sorted(scores, reverse=True)
    assert all(0 < s < 1 for s in scores)
    assert result.value[0].pid == "20.500.12269/panosc-dataset3"


def test_where_operators_filter_datasets(make_client):
    client = make_client("provider1")
    like = client.search_datasets(Filter(where=field("title").like("%Provider 1) 2"))).value
    assert [d.pid for d in like] == ["20.500.12269/panosc-dataset2"]
    inq = client.search_datasets(Filter(where=field("pid").inq(
        ["20.500.12269/panosc-dataset1", "20.500.12269/panosc-dataset4"]))).value
    assert {d.pid for d in inq} == {"20.500.12269/panosc-dataset1", "20.500.12269/panosc-dataset4"}
    either = client.search_datasets(Filter(
        where=field("title").ilike("%dataset (from provider 1) 1") | text("provider 1) 3"))).value
    assert {d.pid[-1] for d in either} == {"1", "3"}
    neither = client.search_datasets(Filter(
        where=field("pid").nin(["20.500.12269/panosc-dataset1"])
        & field("title").nlike("4$"))).value
    assert {d.pid[-1] for d in neither} == {"2", "3"}


def test_scoped_include_filters_by_technique_and_embeds_it(make_client):
    client = make_client("provider1")
    found = client.search_datasets(Filter(include=(
        Include.techniques(name="x-ray absorption"), Include.instrument()))).value
    assert {d.pid[-1] for d in found} == {"3", "4"}
    assert all(t.name == "x-ray absorption" for d in found for t in d.techniques)
    assert {d.instrument.name for d in found} == {"FREIA", "HEIMDAL"}
    assert found[0].facility == "ESS"


def test_technique_by_panet_id_matches_the_pid_field(make_client):
    client = make_client("reference")
    # The reference DB uses its own technique pids; a PaNET PURL matches none of them.
    none = client.search_datasets(Filter(include=(Include.technique("PaNET01189"),))).value
    assert none == []
    assert Include.technique("PaNET01189").to_json()["scope"]["where"] == {
        "pid": "http://purl.org/pan-science/PaNET/PaNET01189"}


def test_parameter_includes_are_anded_and_coerce_string_bounds(make_client):
    client = make_client("provider1")
    energy = client.search_datasets(Filter(include=(
        Include.parameter("photon_energy", between=("880", "990"), unit="eV"),))).value
    assert [d.pid[-1] for d in energy] == ["2"]
    assert energy[0].parameters[0].number == 930
    both = client.search_datasets(Filter(include=(
        Include.parameter("chemical_formula", value="Cu"),
        Include.parameter("sample_state", value="solid")))).value
    assert [d.pid[-1] for d in both] == ["1"]
    clash = client.search_datasets(Filter(include=(
        Include.parameter("chemical_formula", value="Cu"),
        Include.parameter("photon_energy", gt=0)))).value
    assert clash == []


def test_include_files_samples_and_documents(make_client):
    client = make_client("reference")
    found = client.search_datasets(Filter(
        where=field("pid").eq("20.500.12269/panosc-dataset1"),
        include=(Include.files(), Include.samples(), Include("documents")))).value
    (dataset,) = found
    assert [f.name for f in dataset.files] == ["panosc-file1.hdf"]
    assert dataset.samples[0].name == "solid copper cylinder"
    assert dataset.documents[0].pid == "10.5072/panosc-document1"
    # The federated model (provider dumps) calls the relation `document`, singular.
    singular = make_client("provider1").search_datasets(Filter(
        where=field("pid").eq("20.500.12269/panosc-dataset1"), include=(Include("document"),)))
    assert singular.value[0].documents[0].type == "publication"


def test_documents_with_members_and_instruments_with_datasets(make_client):
    client = make_client("provider1")
    docs = client.search_documents(Filter(include=(Include(
        "members", include=(Include("person"), Include("affiliation"))),), order=("title DESC",)))
    assert [d.type for d in docs.value] == ["publication", "proposal"]
    member = docs.value[0].members[0]
    assert member.person.full_name and member.affiliation.city == "Lund"
    loki = client.search_instruments(Filter(where=field("name").eq("LoKI"),
                                            include=(Include("datasets"),))).value
    assert loki[0].datasets[0].pid == "20.500.12269/panosc-dataset1"


def test_pagination_with_limit_skip_and_order(make_client):
    client = make_client("provider1")
    order = ("name ASC",)
    first = client.search_instruments(Filter(limit=5, order=order)).value
    second = client.search_instruments(Filter(limit=5, skip=5, order=order)).value
    rest = client.search_instruments(Filter(limit=50, skip=10, order=order)).value
    names = [i.name for i in first + second + rest]
    assert len(names) == 15 and len(set(names)) == 15
    assert names == sorted(names)
    fields = client.search_instruments(Filter(fields=("pid", "name"), limit=1)).value
    assert fields[0].facility is None and fields[0].name


def test_count_endpoints_take_a_bare_where(make_client):
    client = make_client("provider1")
    assert client.count_datasets().value == 4
    assert client.count_instruments(field("name").like("^[A-F]")).value == 6
    assert client.count_documents(field("type").eq("proposal")).value == 1


def test_pids_with_slashes_are_url_encoded(make_client, server):
    client = make_client("provider1")
    dataset = client.get_dataset("20.500.12269/panosc-dataset2",
                                 include=(Include("instrument"),)).value
    assert dataset.instrument.name == "ODIN"
    assert any("/Datasets/20.500.12269%2Fpanosc-dataset2" in p for _, p, _ in server.log)
    files = client.dataset_files("20.500.12269/panosc-dataset2").value
    assert [f.name for f in files] == ["panosc-file2.hdf"]


def test_unknown_pid_is_not_found(make_client):
    with pytest.raises(DatasetNotFoundError):
        make_client("provider1").get_dataset("20.500.12269/nope")


def test_federated_merges_providers_and_tags_each_item(make_client, server):
    client = make_client("federated")
    found = client.search_datasets(Filter(query="PaNOSC test dataset", limit=5)).value
    assert len(found) == 5
    assert {d.provider for d in found} == {server.url("provider1"), server.url("provider2")}
    assert client.count_datasets().value == 8
    dataset = client.get_dataset("20.500.12269/panosc-dataset7").value
    assert dataset.provider == server.url("provider2")


def test_recorded_production_responses_parse_with_their_quirks(make_client):
    client = make_client("recorded")
    datasets = client.search_datasets(Filter(limit=10, query="data beam")).value
    assert [d.pid for d in datasets][:1] == ["20.500.12269/BRIGHTNESS/MB0033"]
    assert datasets[0].size == 5380741 and datasets[0].creation_date.year == 2017
    assert datasets[0].provider == "https://scicat.ess.eu/panosc-api"
    docs = client.search_documents(Filter(limit=10, query="temperature beam")).value
    esrf = docs[-1]
    assert esrf.pid == "186715647" and esrf.doi is None  # doi " " is no DOI
    assert esrf.extra == {"id": "186715647"} and esrf.score == 0
    assert esrf.license == "CC-BY-4.0" and esrf.release_date.year == 2019
    assert client.get_document("186715647").value.title == "PUB-0001"
    titled = client.search_datasets(Filter(limit=10, where=field("title").like("data"))).value
    assert {d.title for d in titled} == {"V20 data"}


def test_ill_documents_with_null_score_and_empty_dates(make_client):
    docs = make_client("ill").search_documents(Filter(where=text("curvature"))).value
    assert [d.pid for d in docs] == ["10.5291/ILL-DATA.8-02-889"]
    doc = docs[0]
    assert doc.score is None and doc.start_date is None and doc.license == "CC-BY"
    raw = make_client("ill").search_documents(Filter(where=field("pid").eq(
        "10.5291/ILL-DATA.8-02-1023"))).value
    assert raw[0].release_date is None and raw[0].keywords == []


def test_sloppy_provider_records_are_coerced_not_rejected(make_client):
    client = make_client("quirks")
    found = client.search_datasets(Filter(include=(Include("document"),),
                                          order=("title ASC",))).value
    by_pid = {d.pid: d for d in found}
    assert "186715647" in by_pid  # a JSON number pid becomes a string
    assert by_pid["186715647"].creation_date is None
    assert len(found) == 5  # the record without a pid is skipped, not fatal
    first = by_pid["20.500.12269/panosc-dataset1"]
    assert first.size == 1000 and first.creation_date is None and first.extra["id"]
    assert first.documents[0].doi is None and first.documents[0].keywords == []
    assert client.count_datasets().value == 6  # {"count": "6"}
    params = client.search_datasets(Filter(include=(Include.parameter("photon_energy"),))).value
    assert params[0].parameters[0].value == "930" and params[0].parameters[0].number == 930.0


def test_upstream_400_becomes_invalid_input_with_its_message(make_client, server):
    client = make_client("provider1")
    with pytest.raises(PanoscBadRequestError, match="Invalid regular expression") as caught:
        client.search_datasets(Filter(where=field("title").regexp("(")))
    assert caught.value.status == 400 and caught.value.errors["filter"]
    bad = make_client("fault/400/provider1")
    with pytest.raises(PanoscBadRequestError, match="not a member of Dataset"):
        bad.search_datasets()


def test_search_service_filters_by_technique_and_facility(make_client):
    client = make_client("federated")
    result = service.search_datasets(client=client, q="dataset", technique="x-ray absorption",
                                     facility="ESS", limit=3)
    assert len(result.items) == 3 and not result.stale
    assert all(d.techniques[0].name == "x-ray absorption" for d in result.items)
    assert all(d.facility == "ESS" and d.provider for d in result.items)
    none = service.search_datasets(client=client, q="dataset", facility="ILL")
    assert none.items == []


def test_get_dataset_service_embeds_everything_a_page_shows(make_client):
    fetched = service.get_dataset("20.500.12269/panosc-dataset1", client=make_client("provider1"))
    dataset = fetched.value
    assert dataset.files and dataset.parameters and dataset.samples and dataset.techniques
    assert dataset.instrument.name == "LoKI"


def test_filter_json_is_sent_compact_and_stable(make_client, server):
    client = make_client("provider1")
    client.search_datasets(Filter(limit=2, query="x"))
    (_, path, _), = server.hits("/provider1/api/Datasets")
    assert path.endswith("/Datasets")
    assert json.loads(Filter(limit=2, query="x").dumps()) == {"limit": 2, "query": "x"}

import json
from datetime import UTC, datetime

from panlearn.datasets.models import Dataset, Document, Instrument, Parameter, parse_list


def test_recorded_federated_documents_parse_with_their_quirks(shared_data_dir):
    raw = json.loads((shared_data_dir / "panosc" /
                      "federated_documents_query_temperature_beam.json").read_text())
    docs = parse_list(raw, Document.parse, what="document")
    esrf = docs[-1]
    assert esrf.pid == "186715647" and esrf.doi is None and esrf.type == "proposal"
    assert esrf.extra == {"id": "186715647"}
    assert esrf.start_date == datetime(2019, 3, 19, 14, 36, 46, tzinfo=UTC)
    assert docs[0].doi == "10.17199/BRIGHTNESS/BeamInstrumentation0003"


def test_ill_documents_with_nulls_and_empty_strings(shared_data_dir):
    raw = json.loads((shared_data_dir / "panosc" /
                      "oscars_pan_finder_ill_data_manual_20250423102500.json").read_text())
    docs = [Document.parse(entry["panosc"]) for entry in raw]
    assert [d.score for d in docs] == [None, None]
    assert docs[0].start_date is None and docs[0].keywords == []
    assert docs[1].release_date is None and docs[1].license == "CC-BY"


def test_numbers_as_strings_numeric_pids_and_bad_dates_are_coerced():
    dataset = Dataset.parse({
        "pid": 186715647, "title": " t ", "isPublic": "false", "size": "5380741",
        "score": "0.85", "creationDate": "yesterday", "provider": "p",
        "document": {"pid": "10.1/x", "title": "d", "doi": " "},
        "parameters": [{"name": "T", "value": "4.0", "unit": ""}, {"value": 1}],
        "instrument": {"pid": 7, "name": "DMC", "facility": "PSI"},
        "techniques": [None, {"pid": "PaNET01100", "name": "npd"}],
        "files": [{"name": "a.h5", "size": "12", "id": 3}, {"size": 1}],
        "extraThing": [1],
    })
    assert dataset.pid == "186715647" and dataset.title == "t" and not dataset.is_public
    assert dataset.size == 5380741 and dataset.score == 0.85 and dataset.creation_date is None
    assert dataset.documents[0].doi is None
    assert dataset.parameters == [Parameter("T", "4.0", None)]
    assert dataset.parameters[0].number == 4.0
    assert dataset.facility == "PSI" and dataset.instrument.pid == "7"
    assert [t.name for t in dataset.techniques] == ["npd"]
    assert dataset.files[0].id == "3" and dataset.files[0].size == 12 and len(dataset.files) == 1
    assert dataset.extra == {"extraThing": [1]}


def test_items_without_pid_are_skipped_and_non_lists_are_rejected():
    assert [d.pid for d in parse_list([{"pid": "a"}, {"title": "x"}, "junk"], Dataset.parse,
                                      what="dataset")] == ["a"]
    assert parse_list({"error": 1}, Dataset.parse, what="dataset") is None
    assert Instrument.parse({"pid": " "}) is None
    assert Parameter.parse({"name": "x", "value": {"nested": 1}}).value is None
    assert Dataset.parse({"pid": "p", "score": float("nan")}).score is None

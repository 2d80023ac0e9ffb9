import copy

import pytest

from panlearn.datasets.errors import DatasetNotFoundError, RegistryValidationError
from panlearn.datasets.registry import Registry

SHA = "e8d8882304d08a57cde1c660333fbe78d01041b41f26e08e44489264f26a0ff4"
URL = ("https://raw.githubusercontent.com/nexusformat/exampledata/"
       "92dde24a34d69ec4527520fa029ce78eb679644b/code/hdf5/sans2009n012333.hdf")

GOOD = {"version": 1, "datasets": [{
    "name": "sans", "title": "SANS", "pid": "20.500.12269/x", "doi": "10.5072/ABC",
    "facility": "PSI", "instrument": "SANS-I",
    "techniques": [{"id": "PaNET01189", "label": "small angle neutron scattering"}],
    "licence": "CC-BY-4.0", "attribution": "PSI",
    "source": {"repository": "nexusformat/exampledata",
               "commit": "92dde24a34d69ec4527520fa029ce78eb679644b"},
    "files": [{"name": "sans2009n012333.hdf", "url": URL, "size": 58499, "sha256": SHA}],
}]}


def test_a_valid_registry_is_looked_up_by_name_pid_or_doi():
    registry = Registry.from_data(GOOD)
    dataset = registry.get("sans")
    assert registry.get("20.500.12269/x") is dataset
    assert registry.get("doi:10.5072/abc") is dataset is registry.get("https://doi.org/10.5072/ABC")
    assert dataset.file("sans2009n012333.hdf").size == 58499
    assert dataset.techniques[0].purl == "http://purl.org/pan-science/PaNET/PaNET01189"
    assert "sans" in registry and "nope" not in registry
    with pytest.raises(DatasetNotFoundError, match="content/datasets.yml"):
        registry.get("nope")
    with pytest.raises(DatasetNotFoundError, match="it has: sans2009n012333.hdf"):
        dataset.file("other.h5")


def test_every_error_is_reported_at_once_named_by_dataset_and_field():
    data = copy.deepcopy(GOOD)
    broken = copy.deepcopy(data["datasets"][0])
    broken.update(name="second", doi="not-a-doi", licence="", pid="20.500.12269/x")
    broken["techniques"] = [{"id": "SANS", "label": "x"}]
    broken["files"] = [
        {"name": "a.h5", "url": URL.replace("92dde24a34d69ec4527520fa029ce78eb679644b", "main"),
         "size": 0, "sha256": SHA.upper()},
        {"name": "a.h5", "url": "ftp://x/a.h5", "size": "12", "sha256": SHA, "md5": "x"},
    ]
    del broken["title"]
    data["datasets"].append(broken)
    data["datasets"].append({"name": "Bad Name!"})
    with pytest.raises(RegistryValidationError) as caught:
        Registry.from_data(data)
    errors = caught.value.errors
    assert caught.value.status == 400
    expected = {
        "datasets[second].title", "datasets[second].doi", "datasets[second].licence",
        "datasets[second].pid", "datasets[second].techniques[0].id",
        "datasets[second].files[a.h5].url", "datasets[second].files[a.h5].size",
        "datasets[second].files[a.h5].sha256", "datasets[second].files[a.h5].md5",
        "datasets[second].files[a.h5].name", "datasets[Bad Name!].name",
        "datasets[Bad Name!].files", "datasets[Bad Name!].techniques",
    }
    assert expected <= set(errors), set(errors) ^ expected
    assert "pinned to a commit" in " ".join(errors["datasets[second].files[a.h5].url"])
    assert "duplicate" in " ".join(errors["datasets[second].pid"])
    assert "datasets[second].title" in caught.value.detail


def test_yaml_errors_and_missing_files(tmp_path):
    with pytest.raises(RegistryValidationError, match="not valid YAML"):
        Registry.from_yaml("datasets: [\n", source="x.yml")
    with pytest.raises(RegistryValidationError):
        Registry.from_yaml("- a list\n")
    assert len(Registry.load(tmp_path / "absent.yml")) == 0
    assert len(Registry.from_yaml("")) == 0


def test_the_shipped_registry_is_valid(shared_data_dir):
    from pathlib import Path

    registry = Registry.load(Path(__file__).resolve().parents[3] / "content" / "datasets.yml")
    assert len(registry) == 9
    assert all(d.techniques and d.licence and d.attribution for d in registry)
    # Every registered file is in the shared data with exactly the registered bytes; the
    # extracts (recorded PaNOSC answers) are those of the panosc folder.
    import hashlib

    for dataset in registry:
        for item in dataset.files:
            folder = "panosc" if item.extract else "nexus"
            content = (shared_data_dir / folder / item.name).read_bytes()
            assert (len(content), hashlib.sha256(content).hexdigest()) == (item.size,
                                                                          item.sha256), item.name

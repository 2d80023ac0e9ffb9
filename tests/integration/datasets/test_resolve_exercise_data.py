"""The real registry, the real files (through the mirror), and exercise data resolution."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from panlearn.config import load_settings
from panlearn.datasets import service
from panlearn.datasets.errors import DatasetSpecError
from panlearn.datasets.registry import Registry
from panlearn.datasets.resolve import papermill_parameters, resolve_exercise_datasets
from panlearn.datasets.settings import (
    DatasetsConfig,
    build_client,
    build_file_cache,
    load_registry,
)

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load(REPO / "content" / "datasets.yml")


def test_the_registry_covers_every_shared_file_with_the_right_size_and_checksum(
    registry, make_file_cache, shared_data_dir, server
):
    nexus = shared_data_dir / "nexus"
    # Extracts of upstream pages (recorded PaNOSC answers) come from a mirror only.
    files = {f.name: (d, f) for d in registry for f in d.files if not f.extract}
    assert set(files) == {p.name for p in nexus.iterdir()}
    cache = make_file_cache(mirrors=[nexus])
    for name, (dataset, item) in files.items():
        assert item.size == (nexus / name).stat().st_size
        assert item.url.startswith("https://raw.githubusercontent.com/")
        assert dataset.source and dataset.source.commit in item.url
        # fetch() takes the mirror copy only when its sha256 matches the registry.
        assert cache.fetch(dataset, item).read_bytes() == (nexus / name).read_bytes()
    assert server.hits("/files/") == []
    assert cache.verify().ok and cache.verify().checked == 8


def test_exercise_specs_resolve_to_parameters_and_provenance(registry, make_file_cache,
                                                             shared_data_dir):
    cache = make_file_cache(mirrors=[shared_data_dir / "nexus"])
    specs = [
        {"parameter": "powder_file", "dataset": "psi-sinq-dmc-gasb-2005", "file": "dmc01.h5"},
        {"parameter": "xafs_file", "dataset": "nsls-x11a-cu-foil-10k-xafs",
         "file": "cu_metal_10K.xdi"},
    ]
    resolved = resolve_exercise_datasets(specs, registry=registry, cache=cache)
    parameters = papermill_parameters(resolved)
    assert set(parameters) == {"powder_file", "xafs_file"}
    assert Path(parameters["powder_file"]).read_bytes()[:4] == b"\x89HDF"
    xafs = resolved[1]
    assert (xafs.facility, xafs.instrument, xafs.licence) == ("NSLS (Brookhaven)", "X11A",
                                                              "Unlicense")
    assert xafs.sha256.startswith("6fd38238") and "Unlicense" in xafs.attribution
    assert xafs.techniques[0].purl.endswith("PaNET01197")


def test_a_bad_spec_fails_before_anything_is_fetched(registry, make_file_cache):
    cache = make_file_cache()
    with pytest.raises(DatasetSpecError) as caught:
        resolve_exercise_datasets(
            [{"parameter": "ok", "dataset": "aps-tomopy-tooth", "file": "tooth.h5"},
             {"parameter": "x", "dataset": "nope", "file": "a.h5"}],
            registry=registry, cache=cache)
    assert set(caught.value.errors) == {"datasets[1].dataset"}
    assert cache.entries() == []


def test_files_listing_comes_from_the_registry_or_from_panosc(registry, make_client):
    listed = service.list_dataset_files("aps-tomopy-tooth", registry=registry)
    assert listed.source == "registry" and listed.files[0].sha256
    remote = service.list_dataset_files("20.500.12269/panosc-dataset3", registry=registry,
                                        client=make_client("provider1"))
    assert remote.source == "panosc" and remote.files[0].name == "panosc-file3.hdf"
    assert remote.files[0].sha256 is None


def test_settings_build_working_collaborators(tmp_path, server, shared_data_dir):
    config = DatasetsConfig.from_settings(load_settings({
        "PANLEARN_PANOSC_URL": server.url("provider1"),
        "PANLEARN_DATA_DIRS": os.pathsep.join([str(tmp_path / "none"),
                                               str(shared_data_dir / "nexus")]),
        "PANLEARN_PANOSC_CACHE_TTL": "60",
    }, {"INSTANCE_DIR": str(tmp_path), "CONTENT_DIR": str(REPO / "content")}))
    assert config.panosc_cache_dir == tmp_path / "panosc-cache"
    assert config.panosc_cache_ttl == 60
    registry = load_registry(config)
    client = build_client(config)
    other = build_client(config, base_url=server.url("provider2"), cache=client.cache)
    cache = build_file_cache(config)
    try:
        assert client.count_datasets().value == 4
        assert other.get_dataset("20.500.12269/panosc-dataset5").value.pid.endswith("5")
        fetched = service.fetch_dataset_file("aps-tomopy-tooth", "tooth.h5",
                                             registry=registry, cache=cache)
        assert fetched.path.is_relative_to(tmp_path / "data-cache")
    finally:
        client.close()
        other.close()
        cache.close()
        client.cache.close()

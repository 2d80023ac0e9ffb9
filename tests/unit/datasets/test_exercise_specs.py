import pytest

from panlearn.datasets.errors import DatasetSpecError
from panlearn.datasets.registry import Registry
from panlearn.datasets.resolve import DatasetSpec, validate_dataset_specs
from tests.unit.datasets.test_registry import GOOD

REGISTRY = Registry.from_data(GOOD)


def test_specs_may_name_a_dataset_by_registry_name_or_pid():
    checked = validate_dataset_specs([
        {"parameter": "a", "dataset": "sans", "file": "sans2009n012333.hdf"},
        DatasetSpec("b", "20.500.12269/x", "sans2009n012333.hdf"),
    ], registry=REGISTRY)
    assert [(spec.parameter, dataset.name) for spec, dataset, _ in checked] == [
        ("a", "sans"), ("b", "sans")]
    assert validate_dataset_specs(None, registry=REGISTRY) == []


def test_every_problem_in_the_specs_is_named():
    with pytest.raises(DatasetSpecError) as caught:
        validate_dataset_specs([
            {"parameter": "class", "dataset": "sans", "file": "sans2009n012333.hdf"},
            {"parameter": "2x", "dataset": "unknown", "file": "a.h5"},
            {"parameter": "ok", "dataset": "sans", "file": "missing.h5", "extra": 1},
            {"parameter": "ok", "dataset": "sans", "file": "sans2009n012333.hdf"},
            {"dataset": "sans"},
            "not an object",
        ], registry=REGISTRY)
    errors = caught.value.errors
    assert set(errors) == {
        "datasets[0].parameter", "datasets[1].parameter", "datasets[1].dataset",
        "datasets[2]", "datasets[2].file", "datasets[3].parameter",
        "datasets[4].parameter", "datasets[4].file", "datasets[5]",
    }
    assert "already used by datasets[2]" in errors["datasets[3].parameter"][0]
    assert "it has: sans2009n012333.hdf" in errors["datasets[2].file"][0]
    assert caught.value.status == 400


def test_specs_must_be_a_list():
    with pytest.raises(DatasetSpecError):
        validate_dataset_specs({"parameter": "a"}, registry=REGISTRY)

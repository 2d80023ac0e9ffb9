"""From an exercise's `metadata.panlearn.datasets` to local files and their provenance.

An exercise notebook names its data as a list of
`{"parameter": "<identifier>", "dataset": "<registry name, PaNOSC pid or DOI>",
"file": "<file name>"}`. Grading needs a local path for each parameter (to
inject with papermill); the lesson page and the feedback need to say where the
data comes from and under which licence. Both come from one resolution, so
what the student is told is exactly what was graded.
"""

from __future__ import annotations

import keyword
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from panlearn.datasets.download import ProgressCallback
from panlearn.datasets.errors import DatasetSpecError
from panlearn.datasets.filecache import FileCache
from panlearn.datasets.registry import Registry, RegistryDataset, RegistryFile, TechniqueRef

_KEYS = ("parameter", "dataset", "file")


@dataclass(frozen=True)
class DatasetSpec:
    """One entry of `metadata.panlearn.datasets`, validated."""

    parameter: str
    dataset: str
    file: str


@dataclass(frozen=True)
class ResolvedDataset:
    """A spec resolved to a verified local file, with everything needed to credit it."""

    parameter: str
    dataset: str
    file: str
    path: Path
    sha256: str
    size: int
    url: str
    title: str
    facility: str
    instrument: str | None
    techniques: tuple[TechniqueRef, ...]
    pid: str | None
    doi: str | None
    licence: str
    attribution: str

    @classmethod
    def of(
        cls, spec: DatasetSpec, dataset: RegistryDataset, item: RegistryFile, path: Path
    ) -> ResolvedDataset:
        """Combine a spec, its registry entry and the fetched path."""
        return cls(
            parameter=spec.parameter,
            dataset=dataset.name,
            file=item.name,
            path=path,
            sha256=item.sha256,
            size=item.size,
            url=item.url,
            title=dataset.title,
            facility=dataset.facility,
            instrument=dataset.instrument,
            techniques=dataset.techniques,
            pid=dataset.pid,
            doi=dataset.doi,
            licence=dataset.licence,
            attribution=dataset.attribution,
        )


def validate_dataset_specs(
    raw: Any, *, registry: Registry
) -> list[tuple[DatasetSpec, RegistryDataset, RegistryFile]]:
    """Check the notebook metadata against the registry, reporting every problem at once.

    Authoring calls this on import, so a course with a typo in a dataset name
    fails when it is imported, not when the first student submits.
    """
    errors: dict[str, list[str]] = {}
    resolved: list[tuple[DatasetSpec, RegistryDataset, RegistryFile]] = []
    if raw is None:
        return resolved
    if not isinstance(raw, list | tuple):
        raise DatasetSpecError(
            "metadata.panlearn.datasets must be a list of {parameter, dataset, file}",
            errors={"datasets": ["must be a list"]},
        )
    seen: dict[str, int] = {}
    for index, entry in enumerate(raw):
        where = f"datasets[{index}]"
        if isinstance(entry, DatasetSpec):
            entry = {"parameter": entry.parameter, "dataset": entry.dataset, "file": entry.file}
        if not isinstance(entry, Mapping):
            errors[where] = ["must be an object with parameter, dataset and file"]
            continue
        unknown = sorted(set(entry) - set(_KEYS))
        if unknown:
            errors[where] = [f"unknown key(s): {', '.join(unknown)}"]
        values: dict[str, str] = {}
        for key in _KEYS:
            value = entry.get(key)
            if not isinstance(value, str) or not value.strip():
                errors[f"{where}.{key}"] = ["required, a non-empty string"]
            else:
                values[key] = value.strip()
        parameter = values.get("parameter")
        if parameter is not None:
            if not parameter.isidentifier() or keyword.iskeyword(parameter):
                errors[f"{where}.parameter"] = [
                    f"{parameter!r} is not a Python identifier usable in the parameters cell"
                ]
            elif parameter in seen:
                errors[f"{where}.parameter"] = [
                    f"{parameter!r} is already used by datasets[{seen[parameter]}]"
                ]
            else:
                seen[parameter] = index
        dataset = registry.find(values["dataset"]) if "dataset" in values else None
        if "dataset" in values and dataset is None:
            errors[f"{where}.dataset"] = [
                f"unknown dataset {values['dataset']!r} (not a registry name, PaNOSC pid or DOI)"
            ]
        item = None
        if dataset is not None and "file" in values:
            item = next((f for f in dataset.files if f.name == values["file"]), None)
            if item is None:
                known = ", ".join(f.name for f in dataset.files)
                errors[f"{where}.file"] = [
                    f"dataset {dataset.name!r} has no file {values['file']!r} (it has: {known})"
                ]
        if dataset is not None and item is not None and parameter and where + ".parameter" \
                not in errors:
            resolved.append(
                (DatasetSpec(parameter, values["dataset"], item.name), dataset, item)
            )
    if errors:
        raise DatasetSpecError(
            f"the exercise's datasets have {len(errors)} problem(s): "
            + "; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()),
            errors=errors,
        )
    return resolved


def resolve_exercise_datasets(
    specs: Sequence[Mapping[str, Any] | DatasetSpec] | None,
    *,
    registry: Registry,
    cache: FileCache,
    progress: ProgressCallback | None = None,
) -> list[ResolvedDataset]:
    """Validate `specs`, fetch each file into the cache, and return paths plus provenance.

    All specs are validated before anything is fetched, so a bad entry never
    costs a download.
    """
    checked = validate_dataset_specs(specs, registry=registry)
    return [
        ResolvedDataset.of(spec, dataset, item, cache.fetch(dataset, item, progress=progress))
        for spec, dataset, item in checked
    ]


def papermill_parameters(resolved: Iterable[ResolvedDataset]) -> dict[str, str]:
    """Build the `parameters` dict for papermill: parameter name → local file path."""
    return {item.parameter: str(item.path) for item in resolved}

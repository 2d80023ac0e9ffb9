"""From an exercise's `metadata.panlearn.datasets` to local files and their provenance.

An exercise notebook names its data as a list of
`{"parameter": "<identifier>", "dataset": "<registry name, PaNOSC pid or DOI>",
"file": "<file name>"}`, or, to hand different students different real files,
`{"parameter": "<identifier>", "choices": [{"dataset": ..., "file": ...}, ...]}`.
Each student is assigned one choice per parameter (`assign_choices`: a hash of
the exercise's identity, the parameter and the user, so it is stable across
course versions and resubmissions, and spread evenly). Grading needs a local
path for each parameter (to inject with papermill); the lesson page and the
feedback need to say where the data comes from and under which licence. Both
come from one resolution, so what the student is told is exactly what was
graded.
"""

from __future__ import annotations

import ast
import hashlib
import itertools
import json
import keyword
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from panlearn.datasets.errors import DatasetSpecError
from panlearn.datasets.registry import Registry, RegistryDataset, RegistryFile, TechniqueRef

if TYPE_CHECKING:  # types only: the cache and downloads bring `requests` and `filelock`
    from panlearn.datasets.download import ProgressCallback
    from panlearn.datasets.filecache import FileCache

_KEYS = ("parameter", "dataset", "file")
_CHOICE_KEYS = ("dataset", "file")
#: Import validation grades the reference solution on every combination of choices.
MAX_COMBINATIONS = 16

#: Which choice (index into an entry's choices) each parameter gets.
Assignment = Mapping[str, int]


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


@dataclass(frozen=True)
class ParameterChoices:
    """One validated entry: a parameter and the real files it may be given (at least one)."""

    parameter: str
    choices: tuple[tuple[DatasetSpec, RegistryDataset, RegistryFile], ...]


def validate_dataset_choices(raw: Any, *, registry: Registry) -> list[ParameterChoices]:
    """Check the notebook metadata against the registry, reporting every problem at once.

    Authoring calls this on import, so a course with a typo in a dataset name
    fails when it is imported, not when the first student submits. Each entry
    is either one file (`dataset`, `file`) or `choices`, a list of them.
    """
    errors: dict[str, list[str]] = {}
    found: list[ParameterChoices] = []
    if raw is None:
        return found
    if not isinstance(raw, list | tuple):
        raise DatasetSpecError(
            "metadata.panlearn.datasets must be a list of {parameter, dataset, file} "
            "or {parameter, choices}",
            errors={"datasets": ["must be a list"]},
        )
    seen: dict[str, int] = {}
    for index, entry in enumerate(raw):
        where = f"datasets[{index}]"
        if isinstance(entry, DatasetSpec):
            entry = {"parameter": entry.parameter, "dataset": entry.dataset, "file": entry.file}
        if not isinstance(entry, Mapping):
            errors[where] = ["must be an object with parameter, dataset and file (or choices)"]
            continue
        has_choices = "choices" in entry
        allowed = ("parameter", "choices") if has_choices else _KEYS
        unknown = sorted(set(entry) - set(allowed))
        if unknown:
            errors[where] = [f"unknown key(s): {', '.join(unknown)}"
                             + (" (an entry with choices names its files inside them)"
                                if has_choices and set(unknown) & {"dataset", "file"} else "")]
        parameter = entry.get("parameter")
        if not isinstance(parameter, str) or not parameter.strip():
            errors[f"{where}.parameter"] = ["required, a non-empty string"]
            parameter = None
        else:
            parameter = parameter.strip()
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
        if has_choices:
            raw_choices = entry.get("choices")
            if not isinstance(raw_choices, list | tuple) or not raw_choices:
                errors[f"{where}.choices"] = ["must be a non-empty list of {dataset, file}"]
                continue
            items = [(f"{where}.choices[{i}]", c) for i, c in enumerate(raw_choices)]
        else:
            items = [(where, entry)]
        choices = []
        files_seen: dict[tuple[str, str], str] = {}
        for place, item_entry in items:
            if not isinstance(item_entry, Mapping):
                errors[place] = ["must be an object with dataset and file"]
                continue
            if has_choices:
                extra = sorted(set(item_entry) - set(_CHOICE_KEYS))
                if extra:
                    errors[place] = [f"unknown key(s): {', '.join(extra)}"]
            checked = _check_file(item_entry, place, registry, errors)
            if checked is None:
                continue
            key = (checked[1].name, checked[2].name)
            if key in files_seen:
                errors[f"{place}.file"] = [f"{key[1]!r} of {key[0]!r} is already offered by "
                                           f"{files_seen[key]}"]
                continue
            files_seen[key] = place
            choices.append(checked)
        if parameter and f"{where}.parameter" not in errors and len(choices) == len(items):
            found.append(ParameterChoices(parameter, tuple(
                (DatasetSpec(parameter, spec_dataset, item.name), dataset, item)
                for spec_dataset, dataset, item in choices)))
    combinations = 1
    for entry in found:
        combinations *= len(entry.choices)
    if combinations > MAX_COMBINATIONS:
        errors["datasets"] = [f"the choices make {combinations} combinations of files; at most "
                              f"{MAX_COMBINATIONS} (the reference solution is graded on each)"]
    if errors:
        raise DatasetSpecError(
            f"the exercise's datasets have {len(errors)} problem(s): "
            + "; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()),
            errors=errors,
        )
    return found


def _check_file(entry: Mapping[str, Any], where: str, registry: Registry,
                errors: dict[str, list[str]]
                ) -> tuple[str, RegistryDataset, RegistryFile] | None:
    """One `{dataset, file}` against the registry; None (and errors noted) when it is wrong."""
    values: dict[str, str] = {}
    for key in _CHOICE_KEYS:
        value = entry.get(key)
        if not isinstance(value, str) or not value.strip():
            errors[f"{where}.{key}"] = ["required, a non-empty string"]
        else:
            values[key] = value.strip()
    dataset = registry.find(values["dataset"]) if "dataset" in values else None
    if "dataset" in values and dataset is None:
        errors[f"{where}.dataset"] = [
            f"unknown dataset {values['dataset']!r} (not a registry name, PaNOSC pid or DOI)"
        ]
    if dataset is None or "file" not in values:
        return None
    item = next((f for f in dataset.files if f.name == values["file"]), None)
    if item is None:
        known = ", ".join(f.name for f in dataset.files)
        errors[f"{where}.file"] = [
            f"dataset {dataset.name!r} has no file {values['file']!r} (it has: {known})"
        ]
        return None
    return values["dataset"], dataset, item


def validate_dataset_specs(
    raw: Any, *, registry: Registry, assignment: Assignment | None = None
) -> list[tuple[DatasetSpec, RegistryDataset, RegistryFile]]:
    """Validate the metadata (see `validate_dataset_choices`); the assigned file per parameter.

    Without an assignment each parameter gets its first choice (the file the
    notebook's own parameters cell names, by convention).
    """
    chosen = []
    for entry in validate_dataset_choices(raw, registry=registry):
        index = (assignment or {}).get(entry.parameter, 0)
        chosen.append(entry.choices[index % len(entry.choices)])
    return chosen


def choice_counts(raw: Any) -> dict[str, int]:
    """How many files each parameter may be given (1 for a single file); no registry needed."""
    counts: dict[str, int] = {}
    for entry in raw or ():
        if isinstance(entry, Mapping) and isinstance(entry.get("parameter"), str):
            choices = entry.get("choices")
            counts[entry["parameter"].strip()] = (
                len(choices) if isinstance(choices, list | tuple) and choices else 1)
    return counts


def assign_choices(raw: Any, *, exercise_key: str, user_id: int | None) -> dict[str, int]:
    """The choice each parameter gets for this user: deterministic, stable, evenly spread.

    The index is a hash of the exercise's identity (course and lesson slug,
    unchanged across course versions), the parameter and the user id, modulo
    the number of choices: resubmissions and new versions with the same
    choices get the same file. Anonymous viewers (no user) get the first.
    """
    assignment: dict[str, int] = {}
    for parameter, count in choice_counts(raw).items():
        if user_id is None or count <= 1:
            assignment[parameter] = 0
            continue
        digest = hashlib.sha256(f"{exercise_key}\0{parameter}\0{user_id}".encode()).digest()
        assignment[parameter] = int.from_bytes(digest[:8], "big") % count
    return assignment


def all_assignments(raw: Any) -> list[dict[str, int]]:
    """Every combination of choices (import validation grades the reference on each)."""
    counts = choice_counts(raw)
    names = list(counts)
    return [dict(zip(names, combo, strict=True))
            for combo in itertools.product(*(range(counts[n]) for n in names))]


def assigned_files(raw: Any, assignment: Assignment | None) -> dict[str, str]:
    """Parameter → the file name it gets under ``assignment`` (no registry needed)."""
    files: dict[str, str] = {}
    for entry in raw or ():
        if not isinstance(entry, Mapping) or not isinstance(entry.get("parameter"), str):
            continue
        parameter = entry["parameter"].strip()
        choices = entry.get("choices")
        options = list(choices) if isinstance(choices, list | tuple) and choices else [entry]
        chosen = options[(assignment or {}).get(parameter, 0) % len(options)]
        if isinstance(chosen, Mapping) and isinstance(chosen.get("file"), str):
            files[parameter] = chosen["file"].strip()
    return files


@dataclass(frozen=True)
class DatasetCredit:
    """What a page says about one data file: where it comes from, under which licence."""

    file: str
    url: str
    size: int
    dataset: str
    title: str
    facility: str
    instrument: str | None
    doi: str | None
    pid: str | None
    licence: str
    attribution: str


@dataclass(frozen=True)
class ParameterCredit:
    """A dataset parameter as a page shows it: the viewer's file, or every choice."""

    parameter: str
    #: The files shown: the one assigned to the viewer, or all choices for anonymous viewers.
    files: tuple[DatasetCredit, ...]
    #: How many files students of this exercise may get for this parameter.
    choices: int


def dataset_credits(raw: Any, *, registry: Registry,
                    assignment: Assignment | None) -> list[ParameterCredit]:
    """Credits for an exercise's data: each parameter's assigned file (all files if None).

    Invalid metadata (it was validated at import) gives an empty list rather than an error
    on a page.
    """
    try:
        entries = validate_dataset_choices(raw, registry=registry)
    except DatasetSpecError:
        return []
    out = []
    for entry in entries:
        choices = entry.choices
        if assignment is not None:
            choices = (choices[assignment.get(entry.parameter, 0) % len(choices)],)
        out.append(ParameterCredit(entry.parameter, tuple(
            DatasetCredit(file=item.name, url=item.url, size=item.size, dataset=dataset.name,
                          title=dataset.title, facility=dataset.facility,
                          instrument=dataset.instrument, doi=dataset.doi, pid=dataset.pid,
                          licence=dataset.licence, attribution=dataset.attribution)
            for _, dataset, item in choices), len(entry.choices)))
    return out


def datasets_key(checksums: Mapping[str, str]) -> str:
    """One hash for a set of files given to parameters (parameter → file sha256)."""
    return hashlib.sha256(json.dumps(sorted(checksums.items())).encode()).hexdigest()


def with_assigned_files(source: str, files: Mapping[str, str]) -> str:
    """A parameters cell's source with each named parameter's default set to ``files[name]``.

    Used for a student's download: their notebook names the file they were
    assigned. Only top-level ``name = "<string>"`` assignments are rewritten.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    lines = source.splitlines(keepends=True)
    edits = []
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name) and node.targets[0].id in files
                and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
                and node.value.lineno == node.value.end_lineno):
            edits.append((node.value.lineno - 1, node.value.col_offset,
                          node.value.end_col_offset, repr(files[node.targets[0].id])))
    for line, start, end, text in sorted(edits, reverse=True):
        raw = lines[line].encode()
        lines[line] = (raw[:start] + text.encode() + raw[end:]).decode()
    return "".join(lines)


def resolve_exercise_datasets(
    specs: Sequence[Mapping[str, Any] | DatasetSpec] | None,
    *,
    registry: Registry,
    cache: FileCache,
    progress: ProgressCallback | None = None,
    assignment: Assignment | None = None,
) -> list[ResolvedDataset]:
    """Validate `specs`, fetch the assigned file of each into the cache; paths plus provenance.

    All specs are validated before anything is fetched, so a bad entry never
    costs a download. Without an assignment, each parameter gets its first choice.
    """
    checked = validate_dataset_specs(specs, registry=registry, assignment=assignment)
    return [
        ResolvedDataset.of(spec, dataset, item, cache.fetch(dataset, item, progress=progress))
        for spec, dataset, item in checked
    ]


def papermill_parameters(resolved: Iterable[ResolvedDataset]) -> dict[str, str]:
    """Build the `parameters` dict for papermill: parameter name → local file path."""
    return {item.parameter: str(item.path) for item in resolved}

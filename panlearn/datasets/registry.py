"""The dataset registry (`content/datasets.yml`): pinned, checksummed open data.

The PaNOSC API finds datasets but has no download URL (files are paths on
facility storage), so exercises cannot depend on it for bytes. The registry is
the curated bridge: for each dataset a course uses, its provenance (PaNOSC
pid, DOI, facility, instrument, PaNET techniques, licence, attribution) and
its files, each at a public URL pinned to an immutable commit with size and
sha256. It is validated as a whole on load, and every error is reported at
once, named by dataset and field, so an author fixes the file in one go.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml
from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate

from panlearn.datasets.errors import DatasetNotFoundError, RegistryValidationError

_SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_DOI = re.compile(r"^10\.\d{4,9}/\S+$")
_PANET = re.compile(r"^PaNET\d{5}$")
_FILE_NAME = re.compile(r"^[^/\\\x00]+$")

PANET_PURL = "http://purl.org/pan-science/PaNET/"


# -- typed records ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TechniqueRef:
    """A PaNET technique: its id (`PaNET01189`) and label."""

    id: str
    label: str

    @property
    def purl(self) -> str:
        """The PaNET PURL, which PaNOSC providers use as the technique pid."""
        return PANET_PURL + self.id


@dataclass(frozen=True)
class SourceRef:
    """Where the files come from: a repository, the commit pinned, and a landing URL."""

    repository: str
    commit: str
    url: str | None = None


@dataclass(frozen=True)
class RegistryFile:
    """One file of a dataset: where to get it and how to check it."""

    name: str
    url: str
    size: int
    sha256: str
    description: str | None = None
    #: Set when the bytes are an extract of the document at `url` (a JSON block of a
    #: Markdown page, say): how it was made. Such a file cannot be downloaded, only found
    #: in a local mirror (PANLEARN_DATA_DIRS) and verified by its sha256.
    extract: str | None = None


@dataclass(frozen=True)
class RegistryDataset:
    """A dataset a course uses, with its provenance and files."""

    name: str
    title: str
    facility: str
    licence: str
    attribution: str
    techniques: tuple[TechniqueRef, ...]
    files: tuple[RegistryFile, ...]
    instrument: str | None = None
    pid: str | None = None
    doi: str | None = None
    description: str | None = None
    source: SourceRef | None = None

    def file(self, name: str) -> RegistryFile:
        """Return the file called `name`, or raise DatasetNotFoundError listing the known ones."""
        for item in self.files:
            if item.name == name:
                return item
        known = ", ".join(f.name for f in self.files)
        raise DatasetNotFoundError(
            f"dataset {self.name!r} has no file {name!r} (it has: {known})"
        )


class Registry:
    """All registered datasets, looked up by local name, PaNOSC pid or DOI."""

    def __init__(self, datasets: Mapping[str, RegistryDataset] | None = None) -> None:
        self._by_name: dict[str, RegistryDataset] = dict(datasets or {})
        self._by_pid = {d.pid: d for d in self._by_name.values() if d.pid}
        self._by_doi = {d.doi.lower(): d for d in self._by_name.values() if d.doi}

    def __iter__(self) -> Iterator[RegistryDataset]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    def __contains__(self, ref: object) -> bool:
        return isinstance(ref, str) and self.find(ref) is not None

    def find(self, ref: str) -> RegistryDataset | None:
        """Find the dataset whose name, pid or DOI is `ref` (`doi:`/`https://doi.org/` ok)."""
        ref = ref.strip()
        found = self._by_name.get(ref) or self._by_pid.get(ref)
        if found is None:
            doi = re.sub(r"^(doi:|https?://(dx\.)?doi\.org/)", "", ref, flags=re.I).lower()
            found = self._by_doi.get(doi)
        return found

    def get(self, ref: str) -> RegistryDataset:
        """Like `find`, but an unknown reference is a DatasetNotFoundError."""
        found = self.find(ref)
        if found is None:
            raise DatasetNotFoundError(
                f"no dataset {ref!r} in the registry (by name, PaNOSC pid or DOI); "
                "register it with pinned file URLs in content/datasets.yml"
            )
        return found

    def files_by_sha256(self) -> dict[str, tuple[RegistryDataset, RegistryFile]]:
        """Every registered file by checksum (the cache verifier names files with it)."""
        return {f.sha256: (d, f) for d in self for f in d.files}

    # -- loading ------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path | str) -> Registry:
        """Read and validate a registry file; a missing file is an empty registry."""
        path = Path(path)
        if not path.exists():
            return cls()
        return cls.from_yaml(path.read_text(encoding="utf-8"), source=str(path))

    @classmethod
    def from_yaml(cls, text: str, *, source: str = "datasets.yml") -> Registry:
        """Parse YAML text and validate it (RegistryValidationError names every problem)."""
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise RegistryValidationError(
                f"{source} is not valid YAML", errors={"_yaml": [str(error)]}
            ) from error
        return cls.from_data(data, source=source)

    @classmethod
    def from_data(cls, data: Any, *, source: str = "datasets.yml") -> Registry:
        """Validate already-parsed data (a dict with `datasets: [...]`)."""
        if data is None:
            data = {"datasets": []}
        if not isinstance(data, dict):
            raise RegistryValidationError(
                f"{source} must be a mapping with a `datasets` list",
                errors={"_schema": ["expected a mapping"]},
            )
        errors = _flatten(RegistrySchema().validate(data), data)
        for path, message in _cross_check(data):
            errors.setdefault(path, []).append(message)
        if errors:
            count = sum(len(m) for m in errors.values())
            raise RegistryValidationError(
                f"{source} has {count} error(s): "
                + "; ".join(f"{k}: {' '.join(v)}" for k, v in sorted(errors.items())),
                errors=dict(sorted(errors.items())),
            )
        loaded = RegistrySchema().load(data)
        return cls({d.name: d for d in (_dataset(raw) for raw in loaded["datasets"])})


# -- schema -----------------------------------------------------------------------------------


def _pinned_url(url: str) -> bool:
    parsed = urlparse(url)
    if parsed.scheme not in {"http", "https"} or not parsed.netloc:
        raise ValidationError("must be an http(s) URL")
    if parsed.netloc == "raw.githubusercontent.com":
        parts = parsed.path.strip("/").split("/")
        if len(parts) < 4 or not _COMMIT.match(parts[2]):
            raise ValidationError(
                "must be pinned to a commit: raw.githubusercontent.com/<owner>/<repo>/"
                "<40-hex commit>/<path>"
            )
    return True


class TechniqueSchema(Schema):
    """A PaNET technique reference."""

    class Meta:
        """Reject unknown keys: a misspelt key is an error, not a silent default."""

        unknown = RAISE

    id = fields.String(
        required=True, validate=validate.Regexp(_PANET, error="must be a PaNET id like PaNET01189")
    )
    label = fields.String(required=True, validate=validate.Length(min=1))


class SourceSchema(Schema):
    """The upstream repository and commit the files are pinned to."""

    class Meta:
        """Reject unknown keys: a misspelt key is an error, not a silent default."""

        unknown = RAISE

    repository = fields.String(required=True, validate=validate.Length(min=1))
    commit = fields.String(
        required=True, validate=validate.Regexp(_COMMIT, error="must be a 40-hex commit id")
    )
    url = fields.Url(load_default=None, allow_none=True)


class FileSchema(Schema):
    """A registered file."""

    class Meta:
        """Reject unknown keys: a misspelt key is an error, not a silent default."""

        unknown = RAISE

    name = fields.String(
        required=True,
        validate=validate.Regexp(_FILE_NAME, error="must be a plain file name (no slashes)"),
    )
    url = fields.String(required=True, validate=_pinned_url)
    size = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    sha256 = fields.String(
        required=True,
        validate=validate.Regexp(_SHA256, error="must be 64 lowercase hex digits"),
    )
    description = fields.String(load_default=None, allow_none=True)
    extract = fields.String(load_default=None, allow_none=True,
                            validate=validate.Length(min=1))


class DatasetSchema(Schema):
    """A registered dataset."""

    class Meta:
        """Reject unknown keys: a misspelt key is an error, not a silent default."""

        unknown = RAISE

    name = fields.String(
        required=True,
        validate=validate.Regexp(_SLUG, error="must be a lowercase slug (a-z, 0-9, . _ -)"),
    )
    title = fields.String(required=True, validate=validate.Length(min=1))
    pid = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1))
    doi = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Regexp(_DOI, error="must be a bare DOI like 10.5291/ILL-DATA.8-02-889"),
    )
    facility = fields.String(required=True, validate=validate.Length(min=1))
    instrument = fields.String(load_default=None, allow_none=True)
    techniques = fields.List(
        fields.Nested(TechniqueSchema), required=True, validate=validate.Length(min=1)
    )
    licence = fields.String(required=True, validate=validate.Length(min=1))
    attribution = fields.String(required=True, validate=validate.Length(min=1))
    description = fields.String(load_default=None, allow_none=True)
    source = fields.Nested(SourceSchema, load_default=None, allow_none=True)
    files = fields.List(fields.Nested(FileSchema), required=True, validate=validate.Length(min=1))


class RegistrySchema(Schema):
    """The whole `datasets.yml`."""

    class Meta:
        """Ignore extra top-level keys (YAML anchors, tool metadata); entries are strict."""

        unknown = EXCLUDE

    version = fields.Integer(load_default=1, validate=validate.Equal(1))
    datasets = fields.List(fields.Nested(DatasetSchema), required=True)


# -- helpers ----------------------------------------------------------------------------------


def _label(items: Any, index: Any, key: str) -> str:
    """`[name]` for a list item that has a usable name, else `[index]`."""
    if isinstance(index, int) and isinstance(items, list) and 0 <= index < len(items):
        item = items[index]
        if isinstance(item, dict) and isinstance(item.get(key), str) and item[key]:
            return f"[{item[key]}]"
    return f"[{index}]"


def _flatten(messages: Any, data: Any, prefix: str = "") -> dict[str, list[str]]:
    """Marshmallow's nested errors as `datasets[name].files[file].field` → messages."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, list):
        out[prefix or "_schema"] = [str(m) for m in messages]
        return out
    if not isinstance(messages, dict):
        out[prefix or "_schema"] = [str(messages)]
        return out
    for key, value in messages.items():
        if isinstance(key, int):
            path = prefix + _label(data, key, "name")
            child = data[key] if isinstance(data, list) and 0 <= key < len(data) else None
        else:
            path = f"{prefix}.{key}" if prefix else str(key)
            child = data.get(key) if isinstance(data, dict) else None
        for name, found in _flatten(value, child, path).items():
            out.setdefault(name, []).extend(found)  # two files of one name share a key
    return out


def _cross_check(data: dict[str, Any]) -> list[tuple[str, str]]:
    """Rules across entries: unique dataset names, pids, DOIs, and file names per dataset."""
    problems: list[tuple[str, str]] = []
    datasets = data.get("datasets")
    if not isinstance(datasets, list):
        return problems
    seen: dict[str, dict[str, int]] = {"name": {}, "pid": {}, "doi": {}}
    for index, raw in enumerate(datasets):
        if not isinstance(raw, dict):
            continue
        label = f"datasets{_label(datasets, index, 'name')}"
        for key, first in seen.items():
            value = raw.get(key)
            if not isinstance(value, str) or not value:
                continue
            norm = value.lower() if key == "doi" else value
            if norm in first:
                problems.append((f"{label}.{key}", f"duplicate of datasets[{first[norm]}]"))
            else:
                first[norm] = index
        files = raw.get("files")
        if isinstance(files, list):
            names: set[str] = set()
            for position, item in enumerate(files):
                name = item.get("name") if isinstance(item, dict) else None
                if isinstance(name, str) and name in names:
                    problems.append(
                        (f"{label}.files{_label(files, position, 'name')}.name",
                         "duplicate file name in this dataset")
                    )
                elif isinstance(name, str):
                    names.add(name)
    return problems


def _dataset(raw: dict[str, Any]) -> RegistryDataset:
    source = raw.get("source")
    return RegistryDataset(
        name=raw["name"],
        title=raw["title"],
        facility=raw["facility"],
        licence=raw["licence"],
        attribution=raw["attribution"],
        techniques=tuple(TechniqueRef(t["id"], t["label"]) for t in raw["techniques"]),
        files=tuple(
            RegistryFile(f["name"], f["url"], f["size"], f["sha256"], f.get("description"),
                         f.get("extract"))
            for f in raw["files"]
        ),
        instrument=raw.get("instrument"),
        pid=raw.get("pid"),
        doi=raw.get("doi"),
        description=raw.get("description"),
        source=SourceRef(source["repository"], source["commit"], source.get("url"))
        if source
        else None,
    )

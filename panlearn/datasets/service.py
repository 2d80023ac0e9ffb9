"""Use cases of the datasets feature, called by the REST API and the CLI.

Each function takes its collaborators (client, registry, cache) as arguments,
so the HTTP layer only parses, calls one of these, and dumps the result; tests
pass a client aimed at a local server.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from panlearn.datasets.errors import DatasetNotFoundError, InvalidFilterError
from panlearn.datasets.filters import Filter, Include
from panlearn.datasets.models import Dataset
from panlearn.datasets.registry import Registry

if TYPE_CHECKING:  # the adapters come in as arguments; their modules bring `requests`
    from panlearn.datasets.client import Fetched, PanoscClient
    from panlearn.datasets.download import ProgressCallback
    from panlearn.datasets.filecache import FileCache, VerifyReport

#: The largest page a search may ask for (the federated default, and its cap in practice).
MAX_LIMIT = 100

# Relations every PaNOSC implementation has; a dataset page shows them.
_DETAIL_INCLUDES = (
    Include("techniques"),
    Include("instrument"),
    Include("files"),
    Include("parameters"),
    Include("samples"),
)


@dataclass(frozen=True)
class DatasetSearchResult:
    """A page of search results; `stale` when served from cache because the upstream failed."""

    items: list[Dataset]
    stale: bool
    fetched_at: datetime
    source: str
    query: str | None
    limit: int
    skip: int


@dataclass(frozen=True)
class DatasetFileInfo:
    """A file of a dataset; registry files have `url` and `sha256`, PaNOSC ones a storage path."""

    name: str
    size: int | None
    sha256: str | None = None
    url: str | None = None
    storage_path: str | None = None


@dataclass(frozen=True)
class DatasetFileList:
    """The files of a dataset and where the list came from."""

    dataset: str
    source: Literal["registry", "panosc"]
    files: list[DatasetFileInfo]
    stale: bool = False


@dataclass(frozen=True)
class FetchedFile:
    """A data file available locally, with the checksum it was verified against."""

    dataset: str
    file: str
    path: Path
    sha256: str
    size: int


def search_datasets(
    *,
    client: PanoscClient,
    q: str | None = None,
    technique: str | None = None,
    facility: str | None = None,
    limit: int = 20,
    skip: int = 0,
) -> DatasetSearchResult:
    """Search open datasets by free text, technique (PaNET id or name) and facility.

    Technique and facility become scoped includes (the PaNOSC way of saying
    "datasets with such a technique / measured at such a facility"), and both
    relations are always embedded so a result list can show them. With `q`,
    results are ordered by relevance `score`.
    """
    errors: dict[str, list[str]] = {}
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        errors["limit"] = [f"must be between 1 and {MAX_LIMIT}"]
    if isinstance(skip, bool) or not isinstance(skip, int) or skip < 0:
        errors["skip"] = ["must be 0 or more"]
    if errors:
        raise InvalidFilterError("invalid search parameters", errors=errors)
    query = q.strip() if q and q.strip() else None
    includes = (
        Include.technique(technique) if technique and technique.strip() else Include("techniques"),
        Include.instrument(facility=facility.strip())
        if facility and facility.strip()
        else Include("instrument"),
    )
    fetched = client.search_datasets(
        Filter(include=includes, limit=limit, skip=skip or None, query=query)
    )
    items = fetched.value
    if query:
        # Providers queried directly do not always sort; the federated one does.
        items = sorted(items, key=lambda d: d.score if d.score is not None else -1.0,
                       reverse=True)
    return DatasetSearchResult(
        items=items,
        stale=fetched.stale,
        fetched_at=fetched.fetched_at,
        source=fetched.source,
        query=query,
        limit=limit,
        skip=skip,
    )


def get_dataset(pid: str, *, client: PanoscClient) -> Fetched[Dataset]:
    """One dataset with its techniques, instrument, files, parameters and samples."""
    return client.get_dataset(pid, include=_DETAIL_INCLUDES)


def list_dataset_files(
    ref: str, *, registry: Registry, client: PanoscClient | None = None
) -> DatasetFileList:
    """List the files of a dataset: from the registry when registered, else from PaNOSC.

    Registered files can be fetched (they have a pinned URL and a checksum);
    PaNOSC-only files are listed for information (their path is on facility storage).
    """
    registered = registry.find(ref)
    if registered is not None:
        return DatasetFileList(
            dataset=registered.name,
            source="registry",
            files=[
                DatasetFileInfo(name=f.name, size=f.size, sha256=f.sha256, url=f.url)
                for f in registered.files
            ],
        )
    if client is None:
        raise DatasetNotFoundError(f"no dataset {ref!r} in the registry")
    fetched = client.dataset_files(ref)
    return DatasetFileList(
        dataset=ref,
        source="panosc",
        files=[
            DatasetFileInfo(name=f.name, size=f.size, storage_path=f.path)
            for f in fetched.value
        ],
        stale=fetched.stale,
    )


def fetch_dataset_file(
    ref: str,
    file: str,
    *,
    registry: Registry,
    cache: FileCache,
    progress: ProgressCallback | None = None,
) -> FetchedFile:
    """Make a registered file available locally (registry name, PaNOSC pid or DOI)."""
    dataset = registry.get(ref)
    item = dataset.file(file)
    path = cache.fetch(dataset, item, progress=progress)
    return FetchedFile(dataset.name, item.name, path, item.sha256, item.size)


def verify_cache(*, cache: FileCache, remove_bad: bool = False) -> VerifyReport:
    """Re-hash every cached file and report those whose bytes changed (optionally removing them)."""
    return cache.verify(remove_bad=remove_bad)

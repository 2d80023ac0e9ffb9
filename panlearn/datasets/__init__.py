"""Open PaN data for exercises: PaNOSC search, the dataset registry, and the file cache.

Modules, each named for what it holds:

- `filters`: typed builder of the PaNOSC (LoopBack) `filter`
- `models`: lenient typed PaNOSC records
- `client`: the PaNOSC search API adapter (timeouts, retries, cache, stale fallback)
- `response_cache`: persistent TTL cache of API responses (SQLite)
- `registry`: `content/datasets.yml`, validated
- `download`, `filecache`: verified, resumable downloads into a content-addressed cache
- `resolve`: an exercise's `metadata.panlearn.datasets` → local paths and provenance
- `service`: the use cases the API and CLI call
- `settings`: `PANLEARN_*` keys and the factories that build the collaborators
"""

from panlearn.datasets.client import DEFAULT_PANOSC_URL, Fetched, PanoscClient
from panlearn.datasets.filecache import FileCache, VerifyReport
from panlearn.datasets.filters import Filter, Include, field, text
from panlearn.datasets.registry import Registry, RegistryDataset, RegistryFile
from panlearn.datasets.resolve import (
    ResolvedDataset,
    papermill_parameters,
    resolve_exercise_datasets,
    validate_dataset_specs,
)
from panlearn.datasets.response_cache import ResponseCache
from panlearn.datasets.service import (
    fetch_dataset_file,
    get_dataset,
    list_dataset_files,
    search_datasets,
    verify_cache,
)

__all__ = [
    "DEFAULT_PANOSC_URL",
    "Fetched",
    "FileCache",
    "Filter",
    "Include",
    "PanoscClient",
    "Registry",
    "RegistryDataset",
    "RegistryFile",
    "ResolvedDataset",
    "ResponseCache",
    "VerifyReport",
    "fetch_dataset_file",
    "field",
    "get_dataset",
    "list_dataset_files",
    "papermill_parameters",
    "resolve_exercise_datasets",
    "search_datasets",
    "text",
    "validate_dataset_specs",
    "verify_cache",
]

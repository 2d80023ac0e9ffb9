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

from __future__ import annotations

from importlib import import_module
from typing import Any

#: Where each name below lives. They are imported on first use, not with the package:
#: `requests` and `filelock` would otherwise cost every importer of `datasets.errors`.
_HOMES = {
    "DEFAULT_PANOSC_URL": "client", "Fetched": "client", "PanoscClient": "client",
    "FileCache": "filecache", "VerifyReport": "filecache",
    "Filter": "filters", "Include": "filters", "field": "filters", "text": "filters",
    "Registry": "registry", "RegistryDataset": "registry", "RegistryFile": "registry",
    "ResolvedDataset": "resolve", "papermill_parameters": "resolve",
    "resolve_exercise_datasets": "resolve", "validate_dataset_specs": "resolve",
    "ResponseCache": "response_cache",
    "fetch_dataset_file": "service", "get_dataset": "service", "list_dataset_files": "service",
    "search_datasets": "service", "verify_cache": "service",
}


def __getattr__(name: str) -> Any:
    """The re-exported name, imported from its module when first asked for."""
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_HOMES[name]}"), name)


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

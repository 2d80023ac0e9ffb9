"""The datasets feature's settings, and the factories that build its collaborators.

The `PANLEARN_PANOSC_*` and `PANLEARN_DATA*` settings are declared in
`panlearn.config` with all others. `DatasetsConfig.from_settings` turns the
resolved values into typed config, and `build_*` make the client, the caches
and the registry the services take.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported by the factories: the app builds its context without them
    from panlearn.datasets.client import PanoscClient
    from panlearn.datasets.filecache import FileCache
    from panlearn.datasets.registry import Registry
    from panlearn.datasets.response_cache import ResponseCache


@dataclass(frozen=True)
class DatasetsConfig:
    """Typed settings for the datasets feature, with paths resolved."""

    panosc_url: str
    panosc_connect_timeout: float
    panosc_read_timeout: float
    panosc_retries: int
    panosc_cache_ttl: float
    panosc_max_response_bytes: int
    panosc_cache_dir: Path
    registry_path: Path
    data_cache_dir: Path
    data_cache_max_bytes: int
    data_max_file_bytes: int
    data_dirs: tuple[Path, ...]
    data_download_timeout: float

    @classmethod
    def from_settings(cls, values: Mapping[str, Any]) -> DatasetsConfig:
        """Build from the resolved settings (`config.load_settings`: parsed, defaults in)."""
        mb = 1024 * 1024
        return cls(
            panosc_url=values["PANOSC_URL"],
            panosc_connect_timeout=float(values["PANOSC_CONNECT_TIMEOUT"]),
            panosc_read_timeout=float(values["PANOSC_READ_TIMEOUT"]),
            panosc_retries=int(values["PANOSC_RETRIES"]),
            panosc_cache_ttl=float(values["PANOSC_CACHE_TTL"]),
            panosc_max_response_bytes=int(values["PANOSC_MAX_RESPONSE_MB"]) * mb,
            panosc_cache_dir=Path(values["PANOSC_CACHE_DIR"]),
            registry_path=Path(values["DATASET_REGISTRY"]),
            data_cache_dir=Path(values["DATA_CACHE_DIR"]),
            data_cache_max_bytes=int(values["DATA_CACHE_MAX_MB"]) * mb,
            data_max_file_bytes=int(values["DATA_MAX_FILE_MB"]) * mb,
            data_dirs=tuple(Path(p) for p in values["DATA_DIRS"]),
            data_download_timeout=float(values["DATA_DOWNLOAD_TIMEOUT"]),
        )


def build_response_cache(config: DatasetsConfig) -> ResponseCache:
    """Open the shared PaNOSC response cache."""
    from panlearn.datasets.response_cache import ResponseCache

    return ResponseCache(config.panosc_cache_dir)


def build_client(
    config: DatasetsConfig,
    *,
    base_url: str | None = None,
    cache: ResponseCache | None = None,
) -> PanoscClient:
    """Make a PaNOSC client; `base_url` overrides the default (an organisation's own API)."""
    from panlearn.datasets.client import PanoscClient

    return PanoscClient(
        base_url or config.panosc_url,
        cache=cache if cache is not None else build_response_cache(config),
        ttl=config.panosc_cache_ttl,
        connect_timeout=config.panosc_connect_timeout,
        read_timeout=config.panosc_read_timeout,
        retries=config.panosc_retries,
        max_response_bytes=config.panosc_max_response_bytes,
    )


def build_file_cache(config: DatasetsConfig) -> FileCache:
    """Make the data file cache with its mirrors and caps."""
    from panlearn.datasets.filecache import FileCache

    return FileCache(
        config.data_cache_dir,
        mirrors=config.data_dirs,
        max_bytes=config.data_cache_max_bytes,
        max_file_bytes=config.data_max_file_bytes,
        read_timeout=config.data_download_timeout,
    )


def load_registry(config: DatasetsConfig) -> Registry:
    """Load the validated dataset registry (RegistryValidationError names every problem)."""
    from panlearn.datasets.registry import Registry

    return Registry.load(config.registry_path)


class DatasetsContext:
    """The datasets collaborators of one app, built on first use and then shared.

    Lazy so that starting the app (or a CLI command that needs no data) never
    fails on an unreadable registry or cache folder.
    """

    def __init__(self, config: DatasetsConfig) -> None:
        self.config = config
        self._client: PanoscClient | None = None
        self._file_cache: FileCache | None = None
        self._registry: Registry | None = None

    @property
    def client(self) -> PanoscClient:
        """The PaNOSC client of the configured endpoint."""
        if self._client is None:
            self._client = build_client(self.config)
        return self._client

    @property
    def file_cache(self) -> FileCache:
        """The checksummed data file cache."""
        if self._file_cache is None:
            self._file_cache = build_file_cache(self.config)
        return self._file_cache

    @property
    def registry(self) -> Registry:
        """The validated dataset registry."""
        if self._registry is None:
            self._registry = load_registry(self.config)
        return self._registry

"""Targets for processes spawned by the tests (importable, so `spawn` can find them)."""

from __future__ import annotations

from typing import Any

from panlearn.datasets.filecache import FileCache
from panlearn.datasets.registry import Registry


def fetch_after_barrier(cache_dir: str, registry_data: dict[str, Any], dataset: str, file: str,
                        barrier: Any, results: Any) -> None:
    """Fetch one file as soon as every sibling process is ready, and report the path."""
    registry = Registry.from_data(registry_data)
    with FileCache(cache_dir, read_timeout=5, backoff_factor=0.01) as cache:
        barrier.wait(timeout=30)
        path = cache.fetch(registry.get(dataset), file)
        results.put((str(path), path.read_bytes() == path.read_bytes() and path.stat().st_size))

"""Fixtures: the local PaNOSC/file server, clients and caches in tmp_path, test registries."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from panlearn.datasets.client import PanoscClient
from panlearn.datasets.filecache import FileCache
from panlearn.datasets.registry import Registry
from panlearn.datasets.response_cache import ResponseCache
from tests.integration.datasets.panosc_server import PanoscTestServer

NEXUS_FILES = {
    "sans2009n012333.hdf": (58499,
                            "e8d8882304d08a57cde1c660333fbe78d01041b41f26e08e44489264f26a0ff4"),
    "dmc01.h5": (29488, "b149942554fd70a7f488e8e730662d2e85f7523b6abf6220fcb9a42d2836630a"),
    "tooth.h5": (1043312, "ab1d9bd073b7fb1beae4defa991c2a2626605c5cf1f4be0d0203656bc47b6489"),
    "cu_metal_10K.xdi": (20429,
                         "6fd3823892d218e576b27674f3faff998ffdf4de261e9ac92ea40a42e6f1ba88"),
    "538039.nxs": (900856, "307cb3ed134e50e4348f2f0b4ad8db44737830ea2a4a9d082c4e0760429cbf10"),
}


@pytest.fixture(scope="session")
def panosc_server(shared_data_dir: Path) -> Iterator[PanoscTestServer]:
    server = PanoscTestServer(shared_data_dir).start()
    yield server
    server.stop()


@pytest.fixture
def server(panosc_server: PanoscTestServer) -> Iterator[PanoscTestServer]:
    panosc_server.reset()
    yield panosc_server
    panosc_server.reset()


@pytest.fixture
def response_cache(tmp_path: Path) -> Iterator[ResponseCache]:
    cache = ResponseCache(tmp_path / "panosc-cache")
    yield cache
    cache.close()


@pytest.fixture
def make_client(
    server: PanoscTestServer, response_cache: ResponseCache
) -> Iterator[Callable[..., PanoscClient]]:
    """Build clients aimed at a provider of the local server; all closed at teardown."""
    clients: list[PanoscClient] = []

    def make(provider: str = "provider1", **options: Any) -> PanoscClient:
        options.setdefault("cache", response_cache)
        options.setdefault("read_timeout", 2.0)
        options.setdefault("connect_timeout", 1.0)
        options.setdefault("backoff_factor", 0.01)
        client = PanoscClient(server.url(provider), **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def registry_data(
    server: PanoscTestServer, fault: str | None = None, names: tuple[str, ...] = ()
) -> dict[str, Any]:
    """A registry whose files are served by the local server (optionally a fault route)."""
    chosen = names or tuple(NEXUS_FILES)
    datasets = []
    for index, name in enumerate(chosen):
        size, sha256 = NEXUS_FILES[name]
        datasets.append({
            "name": f"local-{index}-{name.split('.')[0].lower().replace('_', '-')}",
            "title": f"Local copy of {name}",
            "pid": f"20.500.12269/panosc-dataset{index + 1}",
            "doi": f"10.5072/panlearn-test-{index}",
            "facility": "ESS",
            "instrument": "LoKI",
            "techniques": [{"id": "PaNET01189", "label": "small angle neutron scattering"}],
            "licence": "CC-BY-4.0",
            "attribution": "Test fixture",
            "files": [{"name": name, "url": server.file_url(name, fault), "size": size,
                       "sha256": sha256}],
        })
    return {"version": 1, "datasets": datasets}


@pytest.fixture
def local_registry(server: PanoscTestServer) -> Registry:
    return Registry.from_data(registry_data(server))


@pytest.fixture
def make_file_cache(tmp_path: Path) -> Iterator[Callable[..., FileCache]]:
    caches: list[FileCache] = []

    def make(**options: Any) -> FileCache:
        options.setdefault("read_timeout", 2.0)
        options.setdefault("connect_timeout", 1.0)
        options.setdefault("backoff_factor", 0.01)
        cache = FileCache(options.pop("directory", tmp_path / "data-cache"), **options)
        caches.append(cache)
        return cache

    yield make
    for cache in caches:
        cache.close()


def write_registry(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path

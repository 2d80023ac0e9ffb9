"""Datasets benchmark: cached PaNOSC search, file cache hit, local download throughput.

Run from the repository root: `.venv/bin/python bench/datasets.py`. It starts the
test server on 127.0.0.1 (recorded PaNOSC data, real files from ../shared/data,
or PANLEARN_SHARED_DATA) and prints figures; nothing is asserted.
Targets: cached search < 2 ms, file cache hit < 1 ms.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from panlearn.datasets import service  # noqa: E402
from panlearn.datasets.client import PanoscClient  # noqa: E402
from panlearn.datasets.filecache import FileCache  # noqa: E402
from panlearn.datasets.filters import Filter  # noqa: E402
from panlearn.datasets.registry import Registry  # noqa: E402
from panlearn.datasets.response_cache import ResponseCache  # noqa: E402
from tests.integration.datasets.conftest import NEXUS_FILES, registry_data  # noqa: E402
from tests.integration.datasets.panosc_server import PanoscTestServer  # noqa: E402


def median_ms(call, repeat: int = 2000) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def main() -> None:
    shared = Path(os.environ.get("PANLEARN_SHARED_DATA", REPO.parent / "shared" / "data"))
    server = PanoscTestServer(shared).start()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        cache = ResponseCache(tmp_path / "panosc")
        client = PanoscClient(server.url("federated"), cache=cache, ttl=3600)
        try:
            filter = Filter(query="PaNOSC test dataset", limit=10)
            client.search_datasets(filter)
            raw = median_ms(lambda: client.search_datasets(filter))
            service.search_datasets(client=client, q="dataset", technique="x-ray absorption")
            full = median_ms(lambda: service.search_datasets(
                client=client, q="dataset", technique="x-ray absorption"))
            print(f"cached search (client, 8 results):           median {raw:.3f} ms "
                  "(target < 2 ms)")
            print(f"cached search (service, includes, 4 results): median {full:.3f} ms")

            registry = Registry.from_data(registry_data(server))
            files = FileCache(tmp_path / "hits", mirrors=[shared / "nexus"])
            dataset = next(d for d in registry if d.files[0].name == "tooth.h5")
            files.fetch(dataset, "tooth.h5")
            hit = median_ms(lambda: files.fetch(dataset, "tooth.h5"))
            print(f"file cache hit (tooth.h5):                   median {hit:.3f} ms "
                  "(target < 1 ms)")
            files.close()

            total_bytes, elapsed = 0, 0.0
            for round_ in range(5):
                with FileCache(tmp_path / f"download-{round_}") as fresh:
                    started = time.perf_counter()
                    for entry in registry:
                        fresh.fetch(entry, entry.files[0])
                    elapsed += time.perf_counter() - started
                total_bytes += sum(size for size, _ in NEXUS_FILES.values())
            print(f"download from 127.0.0.1 (verified, {len(NEXUS_FILES)} files x 5): "
                  f"{total_bytes / elapsed / 1e6:.1f} MB/s")
        finally:
            client.close()
            cache.close()
            server.stop()


if __name__ == "__main__":
    main()

"""The data file cache: mirrors, verified resumable downloads, locking, LRU, verification."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import stat
from pathlib import Path

import filelock
import pytest

from panlearn.datasets import service
from panlearn.datasets.errors import (
    ChecksumMismatchError,
    DownloadError,
    DownloadUnavailableError,
    FetchInProgressError,
    FileTooLargeError,
)
from panlearn.datasets.registry import Registry
from tests.integration.datasets.conftest import NEXUS_FILES, registry_data
from tests.integration.datasets.workers import fetch_after_barrier


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _dataset(registry: Registry, file: str):
    return next(d for d in registry if d.files[0].name == file)


def test_a_verified_mirror_copy_is_used_without_any_download(
    make_file_cache, local_registry, server, shared_data_dir
):
    cache = make_file_cache(mirrors=[shared_data_dir / "nexus"])
    dataset = _dataset(local_registry, "sans2009n012333.hdf")
    path = cache.fetch(dataset, "sans2009n012333.hdf")
    assert path.name == "sans2009n012333.hdf" and cache.directory in path.parents
    assert _sha256(path) == NEXUS_FILES["sans2009n012333.hdf"][1]
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert cache.fetch(dataset, "sans2009n012333.hdf") == path
    assert server.hits("/files/") == []


def test_a_mirror_copy_with_wrong_bytes_is_ignored(make_file_cache, local_registry, server,
                                                   tmp_path, shared_data_dir):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    good = (shared_data_dir / "nexus" / "dmc01.h5").read_bytes()
    middle = len(good) // 2
    (mirror / "dmc01.h5").write_bytes(good[:middle] + bytes([good[middle] ^ 0xFF])
                                      + good[middle + 1:])
    cache = make_file_cache(mirrors=[mirror])
    path = cache.fetch(_dataset(local_registry, "dmc01.h5"), "dmc01.h5")
    assert path.read_bytes() == good
    assert len(server.hits("/files/dmc01.h5")) == 1


def test_download_streams_verifies_and_reports_progress(make_file_cache, local_registry, server):
    cache = make_file_cache()
    seen: list[tuple[int, int | None]] = []
    path = cache.fetch(_dataset(local_registry, "tooth.h5"), "tooth.h5",
                       progress=lambda done, total: seen.append((done, total)))
    assert _sha256(path) == NEXUS_FILES["tooth.h5"][1]
    assert len(seen) > 1 and seen[-1] == (1043312, 1043312)
    assert [r for _, _, r in server.hits("/files/tooth.h5")] == [None]
    assert list(cache.partials.iterdir()) == []


def test_a_broken_download_resumes_with_a_range_request(make_file_cache, server):
    registry = Registry.from_data(registry_data(server, "truncate-once", ("538039.nxs",)))
    cache = make_file_cache()
    path = cache.fetch(next(iter(registry)), "538039.nxs")
    assert _sha256(path) == NEXUS_FILES["538039.nxs"][1]
    first, second = [r for _, _, r in server.hits("/files/538039.nxs")]
    # The server broke off after half the file; we resume from what reached the disk.
    assert first is None and 0 < int(second.removeprefix("bytes=").rstrip("-")) <= 900856 // 2


def test_a_host_that_ignores_range_is_downloaded_again_from_the_start(make_file_cache, server):
    registry = Registry.from_data(registry_data(server, "norange", ("dmc01.h5",)))
    path = make_file_cache().fetch(next(iter(registry)), "dmc01.h5")
    assert _sha256(path) == NEXUS_FILES["dmc01.h5"][1]
    assert len(server.hits("/files/dmc01.h5")) == 2


def test_a_download_that_keeps_breaking_fails_and_keeps_only_the_partial(make_file_cache,
                                                                         server):
    registry = Registry.from_data(registry_data(server, "truncate-always", ("tooth.h5",)))
    cache = make_file_cache(attempts=3)
    with pytest.raises(DownloadError, match="failed 3 times") as caught:
        cache.fetch(next(iter(registry)), "tooth.h5")
    assert caught.value.status == 502
    assert cache.entries() == []
    partial = cache.partials / f"{NEXUS_FILES['tooth.h5'][1]}.part"
    assert 0 < partial.stat().st_size < NEXUS_FILES["tooth.h5"][0]  # kept for resuming
    ranges = [r for _, _, r in server.hits("/files/tooth.h5")]
    assert ranges[0] is None and all(r and r.startswith("bytes=") for r in ranges[1:])


def test_wrong_bytes_are_rejected_and_nothing_is_kept(make_file_cache, server):
    registry = Registry.from_data(registry_data(server, "wrongbytes", ("sans2009n012333.hdf",)))
    cache = make_file_cache()
    with pytest.raises(ChecksumMismatchError) as caught:
        cache.fetch(next(iter(registry)), "sans2009n012333.hdf")
    assert caught.value.status == 502
    assert cache.entries() == [] and list(cache.partials.iterdir()) == []


def test_host_errors_timeouts_and_unreachable_hosts(make_file_cache, server):
    cache = make_file_cache(attempts=2, retries=0, read_timeout=0.3)
    failing = Registry.from_data(registry_data(server, "500", ("dmc01.h5",)))
    with pytest.raises(DownloadError, match="HTTP 500"):
        cache.fetch(next(iter(failing)), "dmc01.h5")
    slow = Registry.from_data(registry_data(server, "timeout", ("dmc01.h5",)))
    with pytest.raises((DownloadError, DownloadUnavailableError)):
        cache.fetch(next(iter(slow)), "dmc01.h5")
    data = registry_data(server, None, ("dmc01.h5",))
    with socket_closed_port() as port:
        data["datasets"][0]["files"][0]["url"] = f"http://127.0.0.1:{port}/files/dmc01.h5"
    with pytest.raises(DownloadUnavailableError) as caught:
        cache.fetch(next(iter(Registry.from_data(data))), "dmc01.h5")
    assert caught.value.status == 504


def test_files_over_the_size_cap_are_refused_before_downloading(make_file_cache,
                                                                local_registry, server):
    cache = make_file_cache(max_file_bytes=1000)
    with pytest.raises(FileTooLargeError):
        cache.fetch(_dataset(local_registry, "dmc01.h5"), "dmc01.h5")
    assert server.hits("/files/") == []


def test_least_recently_used_files_are_evicted_beyond_the_cap(make_file_cache, local_registry,
                                                             shared_data_dir):
    cache = make_file_cache(mirrors=[shared_data_dir / "nexus"], max_bytes=1_200_000)
    for name in ("sans2009n012333.hdf", "dmc01.h5", "tooth.h5"):
        cache.fetch(_dataset(local_registry, name), name)
    cache.fetch(_dataset(local_registry, "sans2009n012333.hdf"), "sans2009n012333.hdf")  # use
    cache.fetch(_dataset(local_registry, "538039.nxs"), "538039.nxs")
    kept = {entry.path.name for entry in cache.entries()}
    assert kept == {"sans2009n012333.hdf", "538039.nxs"}
    assert cache.total_bytes() <= 1_200_000


def test_verify_finds_and_removes_files_whose_bytes_changed(make_file_cache, local_registry,
                                                            shared_data_dir):
    cache = make_file_cache(mirrors=[shared_data_dir / "nexus"])
    dataset = _dataset(local_registry, "cu_metal_10K.xdi")
    path = cache.fetch(dataset, "cu_metal_10K.xdi")
    cache.fetch(_dataset(local_registry, "dmc01.h5"), "dmc01.h5")
    assert service.verify_cache(cache=cache).ok
    os.chmod(path, 0o644)
    with path.open("r+b") as handle:
        handle.write(b"X")
    report = service.verify_cache(cache=cache)
    assert report.checked == 2 and [b.path for b in report.bad] == [path]
    assert not report.bad[0].removed and path.exists()
    removed = service.verify_cache(cache=cache, remove_bad=True)
    assert removed.bad[0].removed and not path.exists()
    again = cache.fetch(dataset, "cu_metal_10K.xdi")
    assert _sha256(again) == NEXUS_FILES["cu_metal_10K.xdi"][1]


def test_two_processes_fetching_one_file_download_it_once(server, tmp_path):
    data = registry_data(server, "slowfile", ("tooth.h5",))
    name = data["datasets"][0]["name"]
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    results = context.Queue()
    processes = [
        context.Process(target=fetch_after_barrier,
                        args=(str(tmp_path / "shared-cache"), data, name, "tooth.h5", barrier,
                              results))
        for _ in range(2)
    ]
    for process in processes:
        process.start()
    try:
        outcomes = [results.get(timeout=60) for _ in processes]
    finally:
        for process in processes:
            process.join(30)
    assert [p.exitcode for p in processes] == [0, 0]
    assert outcomes[0] == outcomes[1] and outcomes[0][1] == 1043312
    assert len(server.hits("/fault/slowfile/files/tooth.h5")) == 1
    results.close()
    results.join_thread()


def test_fetch_service_accepts_a_registry_name_pid_or_doi(make_file_cache, local_registry,
                                                         shared_data_dir):
    cache = make_file_cache(mirrors=[shared_data_dir / "nexus"])
    dataset = _dataset(local_registry, "dmc01.h5")
    by_name = service.fetch_dataset_file(dataset.name, "dmc01.h5", registry=local_registry,
                                         cache=cache)
    by_pid = service.fetch_dataset_file(dataset.pid, "dmc01.h5", registry=local_registry,
                                        cache=cache)
    by_doi = service.fetch_dataset_file(f"https://doi.org/{dataset.doi}", "dmc01.h5",
                                        registry=local_registry, cache=cache)
    assert by_name == by_pid == by_doi
    assert by_name.sha256 == NEXUS_FILES["dmc01.h5"][1]


def test_a_fetch_waiting_too_long_for_another_process_is_a_conflict(make_file_cache,
                                                                   local_registry):
    cache = make_file_cache(lock_timeout=0.1)
    dataset = _dataset(local_registry, "dmc01.h5")
    holder = filelock.FileLock(cache.locks / f"{dataset.files[0].sha256}.lock",
                               thread_local=False)
    # flock belongs to an open file, so a second lock in this process blocks like another's.
    with holder, pytest.raises(FetchInProgressError) as caught:
        cache.fetch(dataset, "dmc01.h5")
    assert caught.value.status == 409


class socket_closed_port:
    """A port nobody listens on (bound, read, released)."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]

    def __exit__(self, *exc: object) -> None:
        return None


def test_cached_files_are_readable_by_other_users(tmp_path, shared_data_dir):
    """Sandboxed kernels run as unprivileged users: every cached file must be world-readable."""
    import stat

    from panlearn.datasets.filecache import FileCache
    from panlearn.datasets.registry import Registry
    from tests.conftest import REPO_ROOT

    registry = Registry.load(REPO_ROOT / "content" / "datasets.yml")
    cache = FileCache(tmp_path / "cache", mirrors=[shared_data_dir / "nexus"])
    path = cache.fetch(registry.get("psi-sinq-dmc-gasb-2005"), "dmc01.h5")
    for part in [path, *path.parents]:
        if part == tmp_path:
            break
        mode = part.stat().st_mode
        assert mode & stat.S_IROTH, part
        if part.is_dir():
            assert mode & stat.S_IXOTH, part


def test_an_extract_comes_only_from_a_verified_mirror_and_is_never_downloaded(
        make_file_cache, server, shared_data_dir, tmp_path):
    """The recorded PaNOSC responses: JSON blocks of upstream Markdown pages, pinned by sha256."""
    name = "federated_documents_query_temperature_beam.json"
    content = (shared_data_dir / "panosc" / name).read_bytes()
    registry = Registry.from_data({"datasets": [{
        "name": "recorded", "title": "Recorded", "facility": "ESS", "licence": "NOASSERTION",
        "attribution": "x", "techniques": [{"id": "PaNET01012", "label": "x"}],
        "files": [{"name": name, "url": server.file_url(name), "size": len(content),
                   "sha256": hashlib.sha256(content).hexdigest(),
                   "extract": "the JSON block of the page, re-serialised"}]}]})
    dataset = next(iter(registry))
    assert dataset.files[0].extract == "the JSON block of the page, re-serialised"
    with pytest.raises(DownloadUnavailableError, match="PANLEARN_DATA_DIRS"):
        make_file_cache(mirrors=[tmp_path]).fetch(dataset, name)
    path = make_file_cache(mirrors=[shared_data_dir / "panosc"]).fetch(dataset, name)
    assert path.read_bytes() == content
    assert server.hits("/files/") == []

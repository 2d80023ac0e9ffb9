"""A content-addressed, size-capped cache of registered data files.

`fetch` answers "give me a local, trustworthy copy of this file" in three
steps, cheapest first: the cache itself (by sha256), local mirror folders
(an operator's copy of the data, verified before use), then the registry URL.
Every byte that enters the cache has been checked against the registered
sha256, and cached files are read-only, so a notebook cannot corrupt the copy
the next student gets.

Layout under the cache directory::

    objects/<sha[:2]>/<sha256>/<file name>   verified, read-only (name kept for readers
                                             that care about extensions)
    partial/<sha256>.part                    an interrupted download, resumed next time
    locks/<sha256>.lock                      one fetcher per file, across processes
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import filelock
import requests

from panlearn.datasets.download import ProgressCallback, download_file
from panlearn.datasets.errors import (
    DownloadUnavailableError,
    FetchInProgressError,
    FileTooLargeError,
)
from panlearn.datasets.http import DEFAULT_USER_AGENT, make_session
from panlearn.datasets.registry import RegistryDataset, RegistryFile

log = logging.getLogger(__name__)

_READ_ONLY = 0o444
_READ_ONLY_DIR = 0o555


@dataclass(frozen=True)
class CacheEntry:
    """One cached file: its checksum, where it is, its size, and when it was last used."""

    sha256: str
    path: Path
    size: int
    last_used: float


@dataclass(frozen=True)
class BadEntry:
    """A cached file whose bytes no longer hash to its name."""

    sha256: str
    path: Path
    actual_sha256: str
    removed: bool


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of re-hashing the cache."""

    checked: int
    bad: list[BadEntry] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every cached file still matches its checksum."""
        return not self.bad


class FileCache:
    """Local copies of registered files, fetched once and shared by every process."""

    def __init__(
        self,
        directory: Path | str,
        *,
        mirrors: Sequence[Path | str] = (),
        max_bytes: int | None = 5 * 1024**3,
        max_file_bytes: int = 2 * 1024**3,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        retries: int = 2,
        backoff_factor: float = 0.5,
        attempts: int = 3,
        lock_timeout: float = 900.0,
        user_agent: str = DEFAULT_USER_AGENT,
        session: requests.Session | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.objects = self.directory / "objects"
        self.partials = self.directory / "partial"
        self.locks = self.directory / "locks"
        for folder in (self.objects, self.partials, self.locks):
            folder.mkdir(parents=True, exist_ok=True)
        self.mirrors = tuple(Path(m) for m in mirrors)
        self.max_bytes = max_bytes
        self.max_file_bytes = max_file_bytes
        self.timeout = (connect_timeout, read_timeout)
        self.attempts = attempts
        self.backoff_factor = backoff_factor
        self.lock_timeout = lock_timeout
        self._owns_session = session is None
        self.session = session or make_session(
            retries=retries, backoff_factor=backoff_factor, user_agent=user_agent
        )

    def close(self) -> None:
        """Release pooled connections."""
        if self._owns_session:
            self.session.close()

    def __enter__(self) -> FileCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- fetching -----------------------------------------------------------------------------

    def fetch(
        self,
        dataset: RegistryDataset,
        file: RegistryFile | str,
        *,
        progress: ProgressCallback | None = None,
    ) -> Path:
        """Return a local read-only path holding exactly the registered bytes of `file`.

        Cache hit, else a verified mirror copy, else a verified download; a
        second process asking for the same file meanwhile waits for the first
        instead of downloading it again.
        """
        item = dataset.file(file) if isinstance(file, str) else file
        hit = self.lookup(item.sha256, item.name)
        if hit is not None:
            if progress is not None:
                progress(item.size, item.size)
            return hit
        if item.size > self.max_file_bytes:
            raise FileTooLargeError(
                f"{dataset.name}/{item.name} is {item.size} bytes, over the "
                f"{self.max_file_bytes} byte limit (PANLEARN_DATA_MAX_FILE_MB)"
            )
        lock = filelock.FileLock(self.locks / f"{item.sha256}.lock", timeout=self.lock_timeout)
        try:
            with lock:
                # Whoever held the lock before us may have fetched it already.
                hit = self.lookup(item.sha256, item.name)
                filled = hit is None
                if hit is None:
                    hit = self._fill(dataset, item, progress)
        except filelock.Timeout as error:
            raise FetchInProgressError(
                f"another process has been fetching {dataset.name}/{item.name} for over "
                f"{self.lock_timeout:g} s; try again later"
            ) from error
        if filled:
            self.evict(keep={item.sha256})
        return hit

    def has_local(self, dataset: RegistryDataset, item: RegistryFile) -> bool:
        """Whether `item` can be had without a download: cached, or in a local mirror."""
        return self.lookup(item.sha256, item.name) is not None or \
            next(self._mirror_candidates(dataset, item), None) is not None

    def lookup(self, sha256: str, name: str | None = None) -> Path | None:
        """Return the cached path for `sha256` (touching it for LRU), or None."""
        folder = self.objects / sha256[:2] / sha256
        path = folder / name if name else None
        if path is None or not path.is_file():
            path = next(self._files_in(folder), None)
            if path is None:
                return None
        _touch(path)
        return path

    def _fill(
        self, dataset: RegistryDataset, item: RegistryFile, progress: ProgressCallback | None
    ) -> Path:
        partial = self.partials / f"{item.sha256}.part"
        if not self._copy_from_mirror(dataset, item, partial, progress):
            if item.extract is not None:
                raise DownloadUnavailableError(
                    f"{dataset.name}/{item.name} is an extract of {item.url} ({item.extract}); "
                    "it cannot be downloaded: put a copy in a folder of PANLEARN_DATA_DIRS")
            download_file(
                item.url,
                partial,
                session=self.session,
                size=item.size,
                sha256=item.sha256,
                max_bytes=self.max_file_bytes,
                timeout=self.timeout,
                attempts=self.attempts,
                backoff=self.backoff_factor,
                progress=progress,
            )
        return self._install(partial, item)

    def _copy_from_mirror(
        self,
        dataset: RegistryDataset,
        item: RegistryFile,
        partial: Path,
        progress: ProgressCallback | None,
    ) -> bool:
        for candidate in self._mirror_candidates(dataset, item):
            digest = hashlib.sha256()
            copied = 0
            # Hash while copying: one read, and the bytes we keep are the bytes we checked.
            with candidate.open("rb") as source, partial.open("wb") as target:
                for chunk in iter(lambda s=source: s.read(1024 * 1024), b""):
                    digest.update(chunk)
                    target.write(chunk)
                    copied += len(chunk)
                    if progress is not None:
                        progress(copied, item.size)
            if copied == item.size and digest.hexdigest() == item.sha256:
                log.info("using mirror copy %s", candidate)
                return True
            log.warning("mirror copy %s does not match its sha256; ignoring it", candidate)
            partial.unlink(missing_ok=True)
        return False

    def _mirror_candidates(self, dataset: RegistryDataset, item: RegistryFile) -> Iterator[Path]:
        for mirror in self.mirrors:
            for candidate in (mirror / item.name, mirror / dataset.name / item.name):
                try:
                    if candidate.is_file() and candidate.stat().st_size == item.size:
                        yield candidate
                except OSError:
                    continue

    def _install(self, partial: Path, item: RegistryFile) -> Path:
        shard = self.objects / item.sha256[:2]
        shard.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=shard))
        target = staging / item.name
        os.replace(partial, target)
        os.chmod(target, _READ_ONLY)
        # mkdtemp makes 0700 folders; sandboxed kernels run as other users and must read.
        os.chmod(staging, _READ_ONLY_DIR)
        _touch(target)
        final = shard / item.sha256
        try:
            # Renaming a whole directory is atomic: readers see all of it or nothing.
            os.rename(staging, final)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            existing = self.lookup(item.sha256, item.name)
            if existing is None:
                raise
            return existing
        return final / item.name

    # -- housekeeping -------------------------------------------------------------------------

    def entries(self) -> list[CacheEntry]:
        """Every cached file, least recently used first."""
        found: list[CacheEntry] = []
        if not self.objects.is_dir():
            return found
        for shard in os.scandir(self.objects):
            if not shard.is_dir():
                continue
            for folder in os.scandir(shard.path):
                if folder.name.startswith(".") or not folder.is_dir():
                    continue
                for path in self._files_in(Path(folder.path)):
                    try:
                        stat = path.stat()
                    except OSError:
                        continue
                    found.append(CacheEntry(folder.name, path, stat.st_size, stat.st_mtime))
        found.sort(key=lambda entry: entry.last_used)
        return found

    def total_bytes(self) -> int:
        """Count the bytes the cached files take."""
        return sum(entry.size for entry in self.entries())

    def evict(self, *, keep: set[str] | frozenset[str] = frozenset()) -> list[str]:
        """Drop least recently used files until the cache fits `max_bytes`; returns their sha256.

        Files in `keep` (the one just fetched) stay even if they alone exceed the cap.
        """
        if self.max_bytes is None:
            return []
        removed: list[str] = []
        with filelock.FileLock(self.locks / ".evict.lock", timeout=self.lock_timeout):
            entries = self.entries()
            total = sum(entry.size for entry in entries)
            for entry in entries:
                if total <= self.max_bytes:
                    break
                if entry.sha256 in keep:
                    continue
                self._remove(entry.sha256)
                total -= entry.size
                removed.append(entry.sha256)
                log.info("evicted %s (%d bytes) from the data cache", entry.path.name, entry.size)
        return removed

    def verify(self, *, remove_bad: bool = False) -> VerifyReport:
        """Re-hash every cached file; report (and optionally remove) those that changed."""
        bad: list[BadEntry] = []
        entries = self.entries()
        for entry in entries:
            actual = _sha256_of(entry.path)
            if actual != entry.sha256:
                if remove_bad:
                    self._remove(entry.sha256)
                bad.append(BadEntry(entry.sha256, entry.path, actual, remove_bad))
        return VerifyReport(checked=len(entries), bad=bad)

    def _remove(self, sha256: str) -> None:
        folder = self.objects / sha256[:2] / sha256
        # Rename first so a concurrent reader never sees a half-deleted folder.
        doomed = folder.with_name(f".del-{sha256}-{os.getpid()}-{time.monotonic_ns()}")
        try:
            os.rename(folder, doomed)
        except OSError:
            return
        shutil.rmtree(doomed, ignore_errors=True)

    @staticmethod
    def _files_in(folder: Path) -> Iterator[Path]:
        try:
            with os.scandir(folder) as scan:
                for entry in scan:
                    if entry.is_file():
                        yield Path(entry.path)
        except (FileNotFoundError, NotADirectoryError):
            return


def _touch(path: Path) -> None:
    """Mark a file as just used; the LRU order is the files' mtimes.

    The time is passed explicitly: the kernel's own "now" is only as fine as a
    clock tick, too coarse to order fetches made milliseconds apart.
    """
    now = time.time_ns()
    try:
        os.utime(path, ns=(now, now))
    except OSError:  # a read-only cache volume still serves hits
        pass


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()

"""The on-disk whoosh index: the one adapter that writes to it.

The index is a cache of the database: the app upserts documents after a
commit (so a rolled-back change never leaves a ghost hit) and can always
rebuild it from scratch. Writers from any number of processes (web workers,
the CLI, grading workers) take whoosh's file lock one at a time, waiting for
it rather than failing; readers never lock and keep seeing the last
committed generation while a write is under way.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh.filedb.filestore import FileStorage
from whoosh.searching import Searcher
from whoosh.writing import CLEAR, IndexWriter, LockError

from panlearn.errors import PanlearnError
from panlearn.search.bulk import BulkSegmentWriter
from panlearn.search.documents import SearchDocument
from panlearn.search.schema import SCHEMA_VERSION, build_schema, document_fields

log = logging.getLogger(__name__)

# How long a writer waits for another process's write to finish. A rebuild of
# a large catalogue can take longer: raise it for the CLI if needed.
DEFAULT_LOCK_TIMEOUT = 60.0
# Polling interval while waiting for the write lock.
LOCK_POLL_SECONDS = 0.05
# How often (in documents) `rebuild` reports progress.
PROGRESS_EVERY = 200

ProgressCallback = Callable[[int, int | None], None]


class SearchIndexBusyError(PanlearnError):
    """Another process held the index's write lock for longer than we wait.

    Nothing is lost: the database is the source of truth, and a later upsert
    or a rebuild brings the index up to date.
    """

    status, title, slug = 503, "Search index busy", "search-index-busy"


class Index:
    """A whoosh index in one directory, written only through this class."""

    def __init__(
        self,
        ix: whoosh_index.FileIndex,
        path: Path,
        *,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        recreated: bool = False,
    ) -> None:
        self._ix = ix
        self.path = path
        self.lock_timeout = lock_timeout
        # True when open_or_create found no index or an index with another
        # schema: the caller should rebuild it from the database.
        self.recreated = recreated
        self._local = threading.local()

    # -- opening ----------------------------------------------------------

    @classmethod
    def open_or_create(
        cls, path: str | os.PathLike[str], *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    ) -> Index:
        """Open the index at `path`, creating it (empty) if missing or stale.

        An index written with another schema (an older panlearn) cannot be
        updated safely, so it is replaced by an empty one and `recreated` is
        set: the caller then runs `rebuild`. Creation happens under the write
        lock so two processes starting at once do not clobber each other.
        """
        directory = Path(path)
        directory.mkdir(parents=True, exist_ok=True)
        storage = FileStorage(str(directory))
        schema = build_schema()
        if whoosh_index.exists(storage) and _schema_matches(storage, schema):
            return cls(storage.open_index(), directory, lock_timeout=lock_timeout)

        with _write_lock(storage, lock_timeout):
            # Someone may have created it while we waited for the lock.
            if whoosh_index.exists(storage) and _schema_matches(storage, schema):
                return cls(storage.open_index(), directory, lock_timeout=lock_timeout)
            if whoosh_index.exists(storage):
                log.warning("search index at %s has an old schema; recreating it", directory)
            ix = storage.create_index(schema)
        return cls(ix, directory, lock_timeout=lock_timeout, recreated=True)

    # -- writing ----------------------------------------------------------

    def upsert(self, docs: Iterable[SearchDocument]) -> int:
        """Add or replace documents by `doc_id`, in one commit; returns how many.

        When the same id appears twice, the last one wins, as if the calls had
        been made one after the other.
        """
        latest: dict[str, SearchDocument] = {doc.doc_id: doc for doc in docs}
        if not latest:
            return 0
        with self._writer() as writer:
            for doc in latest.values():
                writer.update_document(**document_fields(doc))
        return len(latest)

    def delete(self, doc_ids: Iterable[str]) -> int:
        """Remove documents by id; unknown ids are ignored. Returns how many went."""
        ids = list(dict.fromkeys(doc_ids))
        if not ids:
            return 0
        with self._writer() as writer:
            return sum(writer.delete_by_term("doc_id", doc_id) for doc_id in ids)

    def delete_course(self, course_slug: str) -> int:
        """Remove a course and all its lessons and exercises. Returns how many went."""
        with self._writer() as writer:
            return writer.delete_by_term("course_slug", course_slug)

    def rebuild(
        self, docs: Iterable[SearchDocument], progress: ProgressCallback | None = None
    ) -> int:
        """Replace the whole index with `docs`, atomically; returns how many.

        Readers see the old index until the single commit at the end, then the
        new one. Other writers wait for the lock meanwhile, so their updates
        land after (never under) the rebuild. `progress(done, total)` is called
        every few hundred documents and at the end; `total` is None when
        `docs` has no length.
        """
        total = len(docs) if hasattr(docs, "__len__") else None  # type: ignore[arg-type]
        seen: set[str] = set()
        done = 0
        with self._writer(mergetype=CLEAR) as writer:
            for doc in docs:
                if doc.doc_id in seen:
                    raise ValueError(f"duplicate doc_id in rebuild: {doc.doc_id!r}")
                seen.add(doc.doc_id)
                writer.add_document(**document_fields(doc))
                done += 1
                if progress is not None and done % PROGRESS_EVERY == 0:
                    progress(done, total)
        if progress is not None:
            progress(done, total)
        return done

    # -- reading ----------------------------------------------------------

    @contextmanager
    def searcher(self) -> Iterator[Searcher]:
        """Yield a searcher on the latest committed generation; never waits for writers.

        Opening a searcher costs milliseconds (the table of contents is
        unpickled, segment files opened), more than a whole query, so each
        thread keeps one and only refreshes it after a commit. Per thread and
        per process, because whoosh readers share file handles and are not
        safe to use from two threads at once.
        """
        cached: tuple[int, Searcher] | None = getattr(self._local, "searcher", None)
        searcher = cached[1] if cached is not None and cached[0] == os.getpid() else None
        if searcher is None or searcher.is_closed or not searcher.up_to_date():
            # A fresh reader, not Searcher.refresh(): refresh reuses segment
            # readers by segment id and so misses deletions in a kept segment.
            if searcher is not None and not searcher.is_closed:
                searcher.close()
            searcher = self._ix.searcher()
        self._local.searcher = (os.getpid(), searcher)
        yield searcher

    def close(self) -> None:
        """Close this thread's cached searcher (others close when their thread ends)."""
        cached = getattr(self._local, "searcher", None)
        if cached is not None and cached[0] == os.getpid():
            cached[1].close()
        self._local.searcher = None

    def doc_count(self) -> int:
        """How many documents the index holds."""
        with self.searcher() as searcher:
            return searcher.doc_count()

    def doc_ids(self) -> set[str]:
        """Every indexed doc id: lets a CLI compare the index with the database."""
        with self.searcher() as searcher:
            return {fields["doc_id"] for fields in searcher.all_stored_fields()}

    # -- internals --------------------------------------------------------

    @contextmanager
    def _writer(self, *, mergetype: Any = None) -> Iterator[IndexWriter]:
        """Take the write lock (waiting up to `lock_timeout`), commit or cancel.

        Every write, rebuild or upsert, goes through `BulkSegmentWriter`, so
        every segment has the postings file that queries read.
        """
        try:
            writer = BulkSegmentWriter(self._ix, timeout=self.lock_timeout, delay=LOCK_POLL_SECONDS)
        except LockError as error:
            raise SearchIndexBusyError(
                f"the search index at {self.path} stayed locked by another writer "
                f"for {self.lock_timeout:g} s"
            ) from error
        try:
            yield writer
        except BaseException:
            writer.cancel()
            raise
        if mergetype is None:
            writer.commit()
        else:
            writer.commit(mergetype=mergetype)


@contextmanager
def _write_lock(storage: FileStorage, timeout: float) -> Iterator[None]:
    """Hold whoosh's own write lock on a storage, outside of any writer."""
    # The same lock file FileIndex.writer() takes ("<indexname>_WRITELOCK").
    lock = storage.lock(f"{whoosh_index._DEF_INDEX_NAME}_WRITELOCK")
    if not _try_for(lambda: lock.acquire(blocking=False), timeout):
        raise SearchIndexBusyError(f"could not lock the search index at {storage.folder}")
    try:
        yield
    finally:
        lock.release()


def _try_for(attempt: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not attempt():
        if time.monotonic() >= deadline:
            return False
        time.sleep(LOCK_POLL_SECONDS)
    return True


def _schema_matches(storage: FileStorage, schema: Any) -> bool:
    """Whether the stored index was written with the schema this code builds."""
    try:
        stored = storage.open_index().schema
    except Exception:  # noqa: BLE001 - an unreadable TOC (e.g. renamed analyzer) is stale too
        return False
    if getattr(stored, "panlearn_version", None) != SCHEMA_VERSION:
        return False
    return _describe(stored) == _describe(schema)


def _describe(schema: Any) -> list[tuple[str, str, tuple[str, ...]]]:
    """Field names, types and analyzer chains: enough to notice a schema change.

    Built by hand because whoosh's analyzers neither compare nor print stably
    (their stemming caches are fresh function objects in every process).
    """
    described = []
    for name, field in sorted(schema.items()):
        analyzer = getattr(field, "analyzer", None)
        steps = getattr(analyzer, "items", [analyzer] if analyzer is not None else [])
        chain = tuple(
            type(step).__name__ + ":" + getattr(getattr(step, "expression", None), "pattern", "")
            for step in steps
        )
        described.append((name, type(field).__name__, chain))
    return described

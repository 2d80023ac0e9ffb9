"""Several processes write to one index: one at a time, all writes land, readers never wait."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from panlearn.search import Index, SearchIndexBusyError, Viewer, search

from .conftest import make_doc

# spawn: a fresh interpreter, like a separate web worker or CLI process.
CONTEXT = multiprocessing.get_context("spawn")
BATCHES = 8
PER_BATCH = 5


def write_batches(path: str, name: str, start, results) -> None:  # type: ignore[no-untyped-def]
    """Child process: upsert batches of documents as soon as both writers are ready."""
    try:
        index = Index.open_or_create(path, lock_timeout=30)
        start.wait(timeout=30)
        for batch in range(BATCHES):
            index.upsert(
                make_doc(f"lesson:{name}-{batch}-{n}", title=f"{name} lesson {batch} {n}")
                for n in range(PER_BATCH)
            )
        results.put((name, "ok"))
    except BaseException as error:  # report anything, LockError included, to the parent
        results.put((name, f"{type(error).__name__}: {error}"))


def hold_write_lock(path: str, locked, release) -> None:  # type: ignore[no-untyped-def]
    """Child process: hold the index's write lock until told to let go."""
    index = Index.open_or_create(path)
    with index._writer() as writer:
        writer.add_document(doc_id="lesson:held", status="published", title="held")
        locked.set()
        release.wait(timeout=30)


def test_two_processes_writing_at_once_both_land(tmp_path: Path) -> None:
    path = str(tmp_path / "search")
    Index.open_or_create(path)
    start = CONTEXT.Event()
    results = CONTEXT.Queue()
    writers = [
        CONTEXT.Process(target=write_batches, args=(path, name, start, results))
        for name in ("web", "cli")
    ]
    for process in writers:
        process.start()
    start.set()
    outcomes = dict(results.get(timeout=60) for _ in writers)
    for process in writers:
        process.join(timeout=30)
    assert outcomes == {"web": "ok", "cli": "ok"}
    index = Index.open_or_create(path)
    assert index.doc_count() == 2 * BATCHES * PER_BATCH
    assert search(index, "web lesson", viewer=Viewer()).total == BATCHES * PER_BATCH


def test_readers_are_not_blocked_and_writers_wait_then_give_up_cleanly(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "search")
    index = Index.open_or_create(path, lock_timeout=0.3)
    index.upsert([make_doc("lesson:1", title="Bragg peaks")])
    locked, release = CONTEXT.Event(), CONTEXT.Event()
    holder = CONTEXT.Process(target=hold_write_lock, args=(path, locked, release))
    holder.start()
    try:
        assert locked.wait(timeout=30)
        # The lock is held: reading still works and sees the last commit.
        assert search(index, "bragg", viewer=Viewer()).total == 1
        # Writing waits for lock_timeout, then fails with our error, not whoosh's LockError.
        with pytest.raises(SearchIndexBusyError) as caught:
            index.upsert([make_doc("lesson:2", title="Laue")])
        assert caught.value.status == 503
    finally:
        release.set()
        holder.join(timeout=30)
    assert holder.exitcode == 0
    # Once the lock is free, the same write goes through.
    index.upsert([make_doc("lesson:2", title="Laue")])
    assert index.doc_ids() == {"lesson:1", "lesson:2", "lesson:held"}

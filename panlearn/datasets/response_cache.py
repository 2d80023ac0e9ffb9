"""A persistent TTL cache of PaNOSC API responses (one SQLite file).

It serves two purposes: repeat searches answer in a millisecond without
bothering the facilities, and when an upstream is down an expired entry is
still there to be served, marked stale. SQLite gives atomic writes that
several processes (web, workers, CLI) can share, and survives restarts.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    body BLOB NOT NULL,
    stored_at REAL NOT NULL
)
"""


@dataclass(frozen=True)
class CachedResponse:
    """A stored response body and when it was fetched (seconds since the epoch)."""

    body: bytes
    stored_at: float

    def age(self, now: float | None = None) -> float:
        """Seconds since it was fetched."""
        return (time.time() if now is None else now) - self.stored_at


class ResponseCache:
    """Key → response body, with fetch times; the caller decides what is fresh.

    Expired entries are kept (they are the stale fallback) until `prune` is
    called with a retention age.
    """

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / "responses.sqlite3"
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._connection().execute(_SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        # One connection per thread: sqlite3 objects must not cross threads, and
        # reusing one per thread keeps a cache hit to a few tens of microseconds.
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, timeout=10, isolation_level=None,
                                         check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    def get(self, key: str) -> CachedResponse | None:
        """Return the stored response for `key`, however old, or None."""
        row = self._connection().execute(
            "SELECT body, stored_at FROM responses WHERE key = ?", (key,)
        ).fetchone()
        return CachedResponse(bytes(row[0]), row[1]) if row else None

    def put(self, key: str, body: bytes, *, stored_at: float | None = None) -> None:
        """Store (or replace) the response for `key`."""
        self._connection().execute(
            "INSERT OR REPLACE INTO responses (key, body, stored_at) VALUES (?, ?, ?)",
            (key, body, time.time() if stored_at is None else stored_at),
        )

    def prune(self, older_than: float) -> int:
        """Delete entries older than `older_than` seconds; returns how many went."""
        cursor = self._connection().execute(
            "DELETE FROM responses WHERE stored_at < ?", (time.time() - older_than,)
        )
        return cursor.rowcount

    def clear(self) -> None:
        """Forget every response."""
        self._connection().execute("DELETE FROM responses")

    def __len__(self) -> int:
        return self._connection().execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        """Close every connection this cache opened (in any thread)."""
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
        self._local = threading.local()

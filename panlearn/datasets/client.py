"""The PaNOSC search API adapter: the one module that talks to facility catalogues.

It works against any implementation of the PaNOSC REST contract, the ESS
federated endpoint by default or an organisation's own facility endpoint
(`base_url`). Every answer goes through the response cache; when an upstream
fails, the last good answer is served with `stale=True` rather than an error,
because a catalogue outage should not stop a lesson from showing its data.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote, urlencode

import requests
import urllib3

from panlearn.config import DEFAULT_PANOSC_URL
from panlearn.datasets.errors import (
    DatasetNotFoundError,
    PanoscBadRequestError,
    PanoscUnavailableError,
    PanoscUpstreamError,
)
from panlearn.datasets.filters import Clause, Filter, Include, where_json
from panlearn.datasets.http import (
    DEFAULT_USER_AGENT,
    ResponseTooLargeError,
    make_session,
    read_limited,
)
from panlearn.datasets.models import Dataset, Document, File, Instrument, parse_list
from panlearn.datasets.response_cache import ResponseCache

log = logging.getLogger(__name__)

T = TypeVar("T")

#: The production federated search run by ESS for PaNOSC (v2.x, 8+ facilities).

_ERROR_BODY_LIMIT = 64 * 1024


@dataclass(frozen=True)
class Fetched(Generic[T]):
    """An answer from the catalogue: `value`, whether it is `stale`, and its age.

    `stale` is True when the upstream failed and this is the last good answer
    from the cache; `fetched_at` says how old it is.
    """

    value: T
    stale: bool
    fetched_at: datetime
    source: str


class PanoscClient:
    """Search datasets, documents and instruments of one PaNOSC search API."""

    def __init__(
        self,
        base_url: str = DEFAULT_PANOSC_URL,
        *,
        cache: ResponseCache | None = None,
        ttl: float = 3600.0,
        connect_timeout: float = 5.0,
        read_timeout: float = 20.0,
        retries: int = 2,
        backoff_factor: float = 0.5,
        max_response_bytes: int = 10 * 1024 * 1024,
        user_agent: str = DEFAULT_USER_AGENT,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.cache = cache
        self.ttl = ttl
        self.timeout = (connect_timeout, read_timeout)
        self.max_response_bytes = max_response_bytes
        self._owns_session = session is None
        self.session = session or make_session(
            retries=retries, backoff_factor=backoff_factor, user_agent=user_agent
        )

    # -- lifecycle ----------------------------------------------------------------------------

    def close(self) -> None:
        """Release pooled connections (the cache belongs to whoever created it)."""
        if self._owns_session:
            self.session.close()

    def __enter__(self) -> PanoscClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- searches -----------------------------------------------------------------------------

    def search_datasets(self, filter: Filter | None = None) -> Fetched[list[Dataset]]:
        """Datasets matching `filter` (with `query`, each carries a relevance `score`)."""
        return self._search("Datasets", "Dataset", filter, Dataset.parse)

    def search_documents(self, filter: Filter | None = None) -> Fetched[list[Document]]:
        """Documents (proposals, publications) matching `filter`."""
        return self._search("Documents", "Document", filter, Document.parse)

    def search_instruments(self, filter: Filter | None = None) -> Fetched[list[Instrument]]:
        """Instruments matching `filter`."""
        return self._search("Instruments", "Instrument", filter, Instrument.parse)

    # -- look-ups by pid ----------------------------------------------------------------------

    def get_dataset(self, pid: str, *, include: Iterable[Include] = ()) -> Fetched[Dataset]:
        """One dataset by pid (pids contain `/`; they are URL-encoded here)."""
        return self._get_one("Datasets", "Dataset", pid, include, Dataset.parse)

    def get_document(self, pid: str, *, include: Iterable[Include] = ()) -> Fetched[Document]:
        """One document by pid (a DOI, or a bare number at ESRF)."""
        return self._get_one("Documents", "Document", pid, include, Document.parse)

    def get_instrument(
        self, pid: str, *, include: Iterable[Include] = ()
    ) -> Fetched[Instrument]:
        """One instrument by pid."""
        return self._get_one("Instruments", "Instrument", pid, include, Instrument.parse)

    def dataset_files(self, pid: str, filter: Filter | None = None) -> Fetched[list[File]]:
        """List the files of dataset `pid` (names, sizes and storage paths, never URLs)."""
        path = f"/Datasets/{encode_pid(pid)}/files"
        return self._fetch(path, _filter_params(filter), _list_parser(File.parse, "file"))

    # -- counts -------------------------------------------------------------------------------

    def count_datasets(self, where: Clause | None = None) -> Fetched[int]:
        """How many datasets match `where` (includes are not counted: no inner joins)."""
        return self._count("Datasets", where)

    def count_documents(self, where: Clause | None = None) -> Fetched[int]:
        """How many documents match `where`."""
        return self._count("Documents", where)

    def count_instruments(self, where: Clause | None = None) -> Fetched[int]:
        """How many instruments match `where`."""
        return self._count("Instruments", where)

    # -- internals ----------------------------------------------------------------------------

    def _search(
        self, collection: str, model: str, filter: Filter | None, parse: Callable[[Any], T | None]
    ) -> Fetched[list[T]]:
        if filter is not None:
            filter.check_relations(model)
        return self._fetch(
            f"/{collection}", _filter_params(filter), _list_parser(parse, model.lower())
        )

    def _get_one(
        self,
        collection: str,
        model: str,
        pid: str,
        include: Iterable[Include],
        parse: Callable[[Any], T | None],
    ) -> Fetched[T]:
        pid = str(pid).strip()
        if not pid:
            raise DatasetNotFoundError(f"empty {model} pid")
        filter = Filter(include=tuple(include))
        filter.check_relations(model)

        def parse_one(payload: Any) -> T | None:
            if payload is None or payload == {} or payload == []:
                raise DatasetNotFoundError(f"{model} {pid!r} not found at {self.base_url}")
            return parse(payload)

        return self._fetch(f"/{collection}/{encode_pid(pid)}", _filter_params(filter), parse_one)

    def _count(self, collection: str, where: Clause | None) -> Fetched[int]:
        params = {"where": where_json(where)} if where is not None else {}
        return self._fetch(f"/{collection}/count", params, _parse_count)

    def _fetch(
        self, path: str, params: dict[str, str], parse: Callable[[Any], T | None]
    ) -> Fetched[T]:
        key = self.base_url + path + ("?" + urlencode(sorted(params.items())) if params else "")
        cached = self.cache.get(key) if self.cache is not None else None
        if cached is not None and cached.age() < self.ttl:
            value = _parse_body(cached.body, parse)
            if value is not None:
                return self._fetched(value, stale=False, at=cached.stored_at)
        try:
            body = self._request(path, params)
            payload = _loads(body, self.base_url)
            value = parse(payload)
            if value is None:
                raise PanoscUpstreamError(
                    f"{self.base_url} sent a response of an unexpected shape for {path}",
                    upstream=self.base_url,
                )
        except (PanoscUnavailableError, PanoscUpstreamError) as error:
            stale = _parse_body(cached.body, parse) if cached is not None else None
            if stale is None:
                raise
            log.warning("serving stale PaNOSC response for %s: %s", key, error.detail)
            return self._fetched(stale, stale=True, at=cached.stored_at)  # type: ignore[union-attr]
        now = time.time()
        if self.cache is not None:
            self.cache.put(key, body, stored_at=now)
        return self._fetched(value, stale=False, at=now)

    def _fetched(self, value: T, *, stale: bool, at: float) -> Fetched[T]:
        return Fetched(value, stale, datetime.fromtimestamp(at, UTC), self.base_url)

    def _request(self, path: str, params: dict[str, str]) -> bytes:
        url = self.base_url + path
        upstream = self.base_url
        try:
            with self.session.get(url, params=params, timeout=self.timeout, stream=True) as resp:
                if resp.status_code >= 400:
                    try:
                        error_body = read_limited(resp, _ERROR_BODY_LIMIT)
                    except (ResponseTooLargeError, requests.RequestException):
                        error_body = b""
                    raise _status_error(resp.status_code, error_body, upstream, path)
                return read_limited(resp, self.max_response_bytes)
        except (requests.Timeout, requests.ConnectionError) as error:
            if _timed_out(error):
                raise PanoscUnavailableError(
                    f"{upstream} did not answer within {self.timeout[1]:g} s", upstream=upstream
                ) from error
            raise PanoscUnavailableError(
                f"{upstream} could not be reached ({_reason(error)})", upstream=upstream
            ) from error
        except ResponseTooLargeError as error:
            raise PanoscUpstreamError(
                f"{upstream} sent a response over the {self.max_response_bytes} byte limit",
                upstream=upstream,
            ) from error
        except requests.RequestException as error:
            raise PanoscUpstreamError(
                f"{upstream} sent a broken response ({_reason(error)})", upstream=upstream
            ) from error


def encode_pid(pid: str) -> str:
    """Encode a pid as one URL path segment: every `/`, `%`, `?`, `#` and space escaped."""
    return quote(str(pid), safe="")


def _filter_params(filter: Filter | None) -> dict[str, str]:
    if filter is None:
        return {}
    dumped = filter.dumps()
    return {} if dumped == "{}" else {"filter": dumped}


def _list_parser(parse: Callable[[Any], T | None], what: str) -> Callable[[Any], list[T] | None]:
    return lambda payload: parse_list(payload, parse, what=what)


def _parse_count(payload: Any) -> int | None:
    count = payload.get("count") if isinstance(payload, dict) else None
    if isinstance(count, bool):
        return None
    if isinstance(count, int) and count >= 0:
        return count
    # The federated proxy can sum a timed-out provider's [] as a string ("0" + …).
    if isinstance(count, str) and count.strip().isdigit():
        return int(count)
    return None


def _loads(body: bytes, upstream: str) -> Any:
    try:
        return json.loads(body)
    except ValueError as error:
        raise PanoscUpstreamError(
            f"{upstream} sent malformed JSON ({len(body)} bytes)", upstream=upstream
        ) from error


def _parse_body(body: bytes, parse: Callable[[Any], T | None]) -> T | None:
    try:
        return parse(json.loads(body))
    except (ValueError, DatasetNotFoundError):
        return None


def _error_message(body: bytes) -> str:
    try:
        payload = json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace").strip()[:500]
    if isinstance(payload, dict):
        inner = payload.get("error", payload)
        if isinstance(inner, dict):
            for key in ("message", "detail", "title"):
                if isinstance(inner.get(key), str):
                    return inner[key][:500]
        elif isinstance(inner, str):
            return inner[:500]
    return json.dumps(payload)[:500]


def _status_error(status: int, body: bytes, upstream: str, path: str) -> Exception:
    message = _error_message(body)
    if status == 400:
        return PanoscBadRequestError(
            f"{upstream} rejected the query: {message or 'HTTP 400'}",
            errors={"filter": [message]} if message else None,
        )
    if status == 404:
        return DatasetNotFoundError(f"{path} not found at {upstream}")
    suffix = f": {message}" if message else ""
    return PanoscUpstreamError(f"{upstream} answered HTTP {status}{suffix}", upstream=upstream)


def _timed_out(error: Exception) -> bool:
    """Tell a timeout from a refused connection (urllib3 wraps both in MaxRetryError)."""
    if isinstance(error, requests.Timeout):
        return True
    reason = getattr(error.args[0], "reason", None) if error.args else None
    # urllib3 files a refused connection (NewConnectionError) under ConnectTimeoutError.
    return isinstance(reason, urllib3.exceptions.TimeoutError) and not isinstance(
        reason, urllib3.exceptions.NewConnectionError
    )


def _reason(error: Exception) -> str:
    text = str(error)
    return text if len(text) < 200 else text[:200] + "…"

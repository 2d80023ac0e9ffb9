"""How the PaNOSC client behaves when an upstream misbehaves, and its stale fallback."""

from __future__ import annotations

import socket
import time

import pytest

from panlearn.datasets.errors import (
    DatasetNotFoundError,
    PanoscBadRequestError,
    PanoscUnavailableError,
    PanoscUpstreamError,
)
from panlearn.datasets.filters import Filter, field
from panlearn.datasets.response_cache import ResponseCache
from panlearn.errors import UpstreamError, UpstreamUnavailableError


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_provider_that_does_not_answer_in_time_is_a_504_without_retrying(make_client, server):
    client = make_client("fault/timeout/provider1", read_timeout=0.3, retries=2)
    started = time.monotonic()
    with pytest.raises(PanoscUnavailableError, match="did not answer within 0.3 s") as caught:
        client.search_datasets()
    assert time.monotonic() - started < 1.5
    assert isinstance(caught.value, UpstreamUnavailableError) and caught.value.status == 504
    assert len(server.hits("/fault/timeout/")) == 1  # a slow provider is not asked thrice


def test_an_unreachable_provider_is_a_504_naming_it(make_client):
    client = make_client(retries=1)
    client.base_url = f"http://127.0.0.1:{_closed_port()}/api"
    with pytest.raises(PanoscUnavailableError, match="could not be reached") as caught:
        client.search_datasets()
    assert caught.value.upstream == client.base_url and caught.value.status == 504


def test_a_dropped_connection_is_a_504(make_client):
    with pytest.raises(PanoscUnavailableError):
        make_client("fault/close/provider1", retries=0).search_datasets()


def test_a_500_is_a_502_naming_the_upstream_and_is_not_retried(make_client, server):
    client = make_client("fault/500/provider1", retries=2)
    with pytest.raises(PanoscUpstreamError, match="answered HTTP 500: Internal Server") as caught:
        client.search_datasets()
    assert isinstance(caught.value, UpstreamError) and caught.value.status == 502
    assert client.base_url in caught.value.detail
    assert len(server.hits("/fault/500/")) == 1


def test_503_is_retried_a_bounded_number_of_times_then_a_502(make_client, server):
    client = make_client("fault/503/provider1", retries=2)
    with pytest.raises(PanoscUpstreamError, match="HTTP 503"):
        client.search_datasets()
    assert len(server.hits("/fault/503/")) == 3


def test_a_flaky_provider_succeeds_after_retries_with_backoff(make_client, server):
    server.flaky_failures = 2
    client = make_client("fault/flaky/provider1", retries=2)
    assert len(client.search_datasets().value) == 4
    assert len(server.hits("/fault/flaky/")) == 3


def test_garbage_and_wrong_shapes_are_502s(make_client):
    with pytest.raises(PanoscUpstreamError, match="malformed JSON"):
        make_client("fault/garbage/provider1").search_datasets()
    with pytest.raises(PanoscUpstreamError, match="unexpected shape"):
        make_client("fault/wrongshape/provider1").search_datasets()


def test_a_response_over_the_size_limit_is_refused(make_client):
    client = make_client("fault/big/provider1", max_response_bytes=100_000)
    with pytest.raises(PanoscUpstreamError, match="100000 byte limit"):
        client.search_datasets()


def test_a_slow_provider_within_the_timeout_is_fine(make_client):
    assert make_client("fault/slow/provider1", read_timeout=2).count_datasets().value == 4


def test_requests_name_panlearn_in_the_user_agent(make_client, server):
    make_client("provider1").count_datasets()
    assert server.user_agents[-1].startswith("panlearn/")


def test_fresh_cached_answers_do_not_touch_the_upstream(make_client, server):
    client = make_client("provider1", ttl=60)
    first = client.search_datasets(Filter(limit=2))
    again = client.search_datasets(Filter(limit=2))
    assert again.value == first.value and not again.stale
    assert len(server.hits("/provider1/api/Datasets")) == 1


def test_when_the_upstream_is_down_the_last_answer_is_served_marked_stale(
    make_client, server, tmp_path
):
    filter = Filter(where=field("title").like("%2"), limit=3)
    before = make_client("provider1").search_datasets(filter)
    server.outage = "503"
    # A restart: a new cache object on the same directory, and an expired TTL.
    reopened = ResponseCache(tmp_path / "panosc-cache")
    try:
        client = make_client("provider1", cache=reopened, ttl=0, retries=0)
        stale = client.search_datasets(filter)
        assert stale.stale and stale.value == before.value
        assert stale.fetched_at == before.fetched_at
        server.outage = "close"
        assert client.search_datasets(filter).stale
        with pytest.raises(PanoscUnavailableError):
            client.search_datasets(Filter(limit=1))  # never cached: nothing to fall back on
        server.outage = None
        fresh = client.search_datasets(filter)
        assert not fresh.stale and fresh.fetched_at > before.fetched_at
    finally:
        reopened.close()


def test_errors_that_are_the_callers_fault_are_never_masked_by_the_cache(make_client, server):
    client = make_client("provider1", ttl=0)
    with pytest.raises(DatasetNotFoundError):
        client.get_dataset("20.500.12269/missing")
    with pytest.raises(PanoscBadRequestError):
        client.search_datasets(Filter(where=field("title").regexp("[")))

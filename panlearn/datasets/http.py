"""HTTP plumbing shared by the PaNOSC client and the file downloader.

One place decides how panlearn behaves towards facility servers: it names
itself (User-Agent), retries only what is worth retrying (connection
failures and 502/503/504, a bounded number of times with exponential
backoff), and never reads more than a configured number of bytes.
"""

from __future__ import annotations

from importlib import metadata

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

RETRY_STATUSES = frozenset({502, 503, 504})


def _version() -> str:
    try:
        return metadata.version("panlearn")
    except metadata.PackageNotFoundError:
        return "0"


DEFAULT_USER_AGENT = (
    f"panlearn/{_version()} (photon and neutron e-learning platform) "
    f"python-requests/{requests.__version__}"
)


class ResponseTooLargeError(Exception):
    """A response body went past the byte limit; the caller turns it into a domain error."""


def make_session(
    *,
    retries: int = 2,
    backoff_factor: float = 0.5,
    user_agent: str = DEFAULT_USER_AGENT,
    pool_maxsize: int = 10,
) -> requests.Session:
    """Make a `requests.Session` with panlearn's retry policy and User-Agent.

    Read timeouts are not retried: a provider that did not answer within the
    read timeout is slow, and asking it again only triples the wait. Retry-After
    is not obeyed, so a proxy cannot park a student's request for an hour.
    """
    retry = Retry(
        total=retries,
        connect=retries,
        read=0,
        status=retries,
        other=0,
        backoff_factor=backoff_factor,
        backoff_max=10,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"GET", "HEAD"}),
        raise_on_status=False,
        respect_retry_after_header=False,
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry, pool_connections=4, pool_maxsize=pool_maxsize)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = user_agent
    session.headers["Accept"] = "application/json"
    return session


def read_limited(response: requests.Response, limit: int) -> bytes:
    """Read the whole body of a streamed response, refusing more than `limit` bytes."""
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ResponseTooLargeError(f"{declared} bytes declared, limit {limit}")
    chunks: list[bytes] = []
    total = 0
    for chunk in response.iter_content(chunk_size=64 * 1024):
        total += len(chunk)
        if total > limit:
            raise ResponseTooLargeError(f"more than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)

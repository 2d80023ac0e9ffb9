"""Streaming, resumable, verified download of one registered file.

A broken connection half-way through a 1 GB file should cost the rest of the
file, not the whole of it: the partial file is kept and the next attempt asks
for the remaining bytes with an HTTP Range request. The sha256 is computed
while the bytes arrive, so verification costs no second read; bytes that do
not match are deleted, never kept.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable
from pathlib import Path

import requests

from panlearn.datasets.errors import (
    ChecksumMismatchError,
    DownloadError,
    DownloadUnavailableError,
    FileTooLargeError,
)

log = logging.getLogger(__name__)

#: Called with (bytes so far, total bytes or None) as a file arrives.
ProgressCallback = Callable[[int, int | None], None]

CHUNK_SIZE = 256 * 1024
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")


class _BrokenOff(Exception):
    """The body ended before the expected number of bytes."""


def download_file(
    url: str,
    partial: Path,
    *,
    session: requests.Session,
    size: int,
    sha256: str,
    max_bytes: int,
    timeout: tuple[float, float] = (10.0, 60.0),
    attempts: int = 3,
    backoff: float = 0.5,
    progress: ProgressCallback | None = None,
) -> Path:
    """Download `url` into `partial` (resuming what is there) and verify size and sha256.

    Returns `partial` holding exactly the expected bytes. Raises FileTooLargeError
    when the registered size is over `max_bytes`, ChecksumMismatchError when the
    bytes are wrong (the partial file is deleted), DownloadError or
    DownloadUnavailableError when the host fails `attempts` times.
    """
    if size > max_bytes:
        raise FileTooLargeError(
            f"{url} is {size} bytes, over the {max_bytes} byte download limit"
        )
    partial.parent.mkdir(parents=True, exist_ok=True)
    digest, have = _resume_state(partial, size)
    failures = 0
    while have < size:
        try:
            digest, have = _transfer(
                url, partial, session=session, have=have, digest=digest, size=size,
                timeout=timeout, progress=progress,
            )
        except (requests.ConnectionError, requests.Timeout, _BrokenOff,
                requests.exceptions.ChunkedEncodingError) as error:
            failures += 1
            have = partial.stat().st_size if partial.exists() else 0
            log.info("download of %s broke off at %d/%d bytes (%s)", url, have, size, error)
            if failures >= attempts:
                unreachable = isinstance(error, requests.ConnectionError) and have == 0
                kind = DownloadUnavailableError if unreachable else DownloadError
                raise kind(
                    f"download of {url} failed {failures} times "
                    f"({have} of {size} bytes kept for resuming): {_short(error)}"
                ) from error
            time.sleep(backoff * 2 ** (failures - 1))
            digest, have = _resume_state(partial, size)
    actual = digest.hexdigest()
    if have != size or actual != sha256:
        partial.unlink(missing_ok=True)
        raise ChecksumMismatchError(
            f"{url} served bytes that do not match the registry "
            f"(sha256 {actual[:16]}…, expected {sha256[:16]}…); nothing was kept"
        )
    return partial


def _resume_state(partial: Path, size: int) -> tuple[hashlib._Hash, int]:
    """Hash what a previous attempt left, so the digest continues where the bytes stop."""
    digest = hashlib.sha256()
    if not partial.exists():
        return digest, 0
    have = partial.stat().st_size
    if have > size:
        partial.unlink()
        return digest, 0
    with partial.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest, have


def _transfer(
    url: str,
    partial: Path,
    *,
    session: requests.Session,
    have: int,
    digest: hashlib._Hash,
    size: int,
    timeout: tuple[float, float],
    progress: ProgressCallback | None,
) -> tuple[hashlib._Hash, int]:
    headers = {"Range": f"bytes={have}-", "Accept": "*/*"} if have else {"Accept": "*/*"}
    with session.get(url, headers=headers, stream=True, timeout=timeout) as response:
        status = response.status_code
        if status == 416 and have:
            # Nothing left to send: what we hold is the whole file (checked by the caller).
            return digest, have
        if status >= 500:
            raise DownloadError(f"{url} answered HTTP {status}")
        if status >= 400:
            raise DownloadError(f"{url} answered HTTP {status}; is the registry URL right?")
        if have and not _resumes_at(response, have):
            # The host ignored our Range (200) or answered another one: start over.
            log.info("%s does not resume at byte %d; restarting", url, have)
            have, digest = 0, hashlib.sha256()
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and have + int(declared) != size:
            partial.unlink(missing_ok=True)
            raise ChecksumMismatchError(
                f"{url} announces {have + int(declared)} bytes, the registry says {size}; "
                "nothing was kept"
            )
        with partial.open("ab" if have else "wb") as out:
            for chunk in response.iter_content(chunk_size=CHUNK_SIZE):
                if have + len(chunk) > size:
                    out.close()
                    partial.unlink(missing_ok=True)
                    raise ChecksumMismatchError(
                        f"{url} sent more than the registered {size} bytes; nothing was kept"
                    )
                out.write(chunk)
                digest.update(chunk)
                have += len(chunk)
                if progress is not None:
                    progress(have, size)
    if have < size:
        raise _BrokenOff(f"body ended at {have} of {size} bytes")
    return digest, have


def _resumes_at(response: requests.Response, offset: int) -> bool:
    if response.status_code != 206:
        return False
    match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
    return bool(match) and int(match.group(1)) == offset


def _short(error: BaseException) -> str:
    text = str(error)
    return text if len(text) < 200 else text[:200] + "…"

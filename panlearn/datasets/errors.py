"""Errors of the datasets feature, each a kind of `panlearn.errors.PanlearnError`.

Callers (API, CLI, grading) catch these by kind; the HTTP status comes from the
base class, so the one problem+json mapping in `panlearn.http.problems` renders them.
"""

from __future__ import annotations

from typing import Any

from panlearn.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    UpstreamError,
    UpstreamUnavailableError,
)


class DatasetNotFoundError(NotFoundError):
    """No such dataset, file or PaNOSC record (registry name, pid or file name)."""

    title = "Dataset not found"


class PanoscUnavailableError(UpstreamUnavailableError):
    """A PaNOSC search API (or a file host) could not be reached, or did not answer in time."""

    title = "Dataset search unavailable"

    def __init__(self, detail: str, *, upstream: str, errors: dict[str, Any] | None = None):
        super().__init__(detail, errors=errors)
        self.upstream = upstream


class PanoscUpstreamError(UpstreamError):
    """A PaNOSC search API answered with a server error, garbage, or too much data."""

    title = "Dataset search failed upstream"

    def __init__(self, detail: str, *, upstream: str, errors: dict[str, Any] | None = None):
        super().__init__(detail, errors=errors)
        self.upstream = upstream


class PanoscBadRequestError(InvalidInputError):
    """A PaNOSC search API rejected the filter (HTTP 400); `detail` carries its message."""

    title = "Dataset search rejected the query"


class InvalidFilterError(InvalidInputError):
    """A search filter we were asked to build is malformed (bad limit, order, operator)."""

    title = "Invalid dataset filter"


class RegistryValidationError(InvalidInputError):
    """`datasets.yml` is malformed; `errors` maps `dataset/field` paths to messages."""

    title = "Invalid dataset registry"


class DatasetSpecError(InvalidInputError):
    """An exercise's `metadata.panlearn.datasets` is malformed; `errors` names each entry."""

    title = "Invalid exercise datasets"


class DownloadUnavailableError(UpstreamUnavailableError):
    """A data file's host could not be reached, or the download stalled."""

    title = "Data file host unavailable"


class DownloadError(UpstreamError):
    """A data file's host answered with an error, or the download kept breaking off."""

    title = "Data file download failed"


class ChecksumMismatchError(UpstreamError):
    """The bytes served for a data file do not match its registered sha256 (or size)."""

    title = "Data file checksum mismatch"


class FileTooLargeError(UpstreamError):
    """A data file is larger than the configured download cap."""

    title = "Data file too large"


class FetchInProgressError(ConflictError):
    """Another process holds the download lock for this file longer than we may wait."""

    title = "Data file download in progress"

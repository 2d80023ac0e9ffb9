"""Domain errors: what went wrong, in terms a service knows, with no HTTP in sight.

Services raise `PanlearnError` subclasses; each kind names its meaning (status,
title, a stable slug) so that the one rendering at the HTTP edge
(`panlearn.http.problems`) turns any of them into the same documented
problem+json body. Plain Python: the grading sandbox and the CLI import this.
"""

from __future__ import annotations

from typing import Any


class PanlearnError(Exception):
    """Base of every error a service raises on purpose; carries its HTTP meaning."""

    status: int = 500
    title: str = "Internal error"
    slug: str = "internal-error"

    def __init__(self, detail: str, *, errors: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        #: Response headers that tell the client what to do next (e.g. `Retry-After`).
        self.headers = headers or {}


class InvalidInputError(PanlearnError):
    """The request or the uploaded content is wrong; `errors` names the fields."""

    status, title, slug = 400, "Invalid input", "invalid-input"


class UnauthorizedError(PanlearnError):
    """No credentials, or credentials that do not identify anyone."""

    status, title, slug = 401, "Authentication required", "unauthorized"


class ForbiddenError(PanlearnError):
    """The caller is known but may not do this."""

    status, title, slug = 403, "Forbidden", "forbidden"


class NotFoundError(PanlearnError):
    """The thing does not exist, or the caller may not know that it exists."""

    status, title, slug = 404, "Not found", "not-found"


class ConflictError(PanlearnError):
    """The request clashes with the current state (a duplicate, an immutable version)."""

    status, title, slug = 409, "Conflict", "conflict"


class PayloadTooLargeError(PanlearnError):
    """An upload over the configured size limit."""

    status, title, slug = 413, "Payload too large", "payload-too-large"


class RateLimitedError(PanlearnError):
    """Too many requests of one kind in a window; `retry_after` says when to come back."""

    status, title, slug = 429, "Too many requests", "rate-limited"

    def __init__(self, detail: str, *, retry_after: int | None = None) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after))}
                         if retry_after is not None else None)
        self.retry_after = retry_after


class BusyError(PanlearnError):
    """The platform cannot serve this now (e.g. every grading worker is busy); try later."""

    status, title, slug = 503, "Busy", "busy"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after))})
        self.retry_after = retry_after


class GradingError(PanlearnError):
    """The platform failed to grade (our fault, never the student's outcome)."""

    status, title, slug = 500, "Grading failed", "grading-failed"


class NotImplementedFormatError(PanlearnError):
    """A format or feature the platform does not provide (e.g. oEmbed XML)."""

    status, title, slug = 501, "Not implemented", "not-implemented"


class UpstreamError(PanlearnError):
    """An upstream service answered with an error or with garbage."""

    status, title, slug = 502, "Bad gateway", "upstream-error"


class UpstreamUnavailableError(PanlearnError):
    """An upstream service could not be reached in time."""

    status, title, slug = 504, "Gateway timeout", "upstream-unavailable"

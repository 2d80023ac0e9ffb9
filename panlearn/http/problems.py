"""Errors rendered as RFC 9457 problem details: the one mapping at the HTTP edge.

Services raise `panlearn.errors.PanlearnError` kinds and never think about HTTP;
this module turns them (and werkzeug's and marshmallow's errors) into
`application/problem+json`, or into the web layer's HTML page when a browser
asked for a page, so every error a user can cause has the same documented shape.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, current_app, json
from werkzeug.exceptions import HTTPException

from panlearn.errors import PanlearnError

PROBLEM_MIMETYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://panlearn.org/problems/"
#: `app.extensions` key of an optional renderer of error pages for browsers:
#: `(status, title, detail) -> Response | None` (None: answer problem+json).
#: The web layer sets it; this module stays the one mapping of errors.
HTML_ERRORS_EXTENSION = "panlearn.html_errors"

HtmlErrorRenderer = Callable[[int, str, str], Response | None]

log = logging.getLogger(__name__)


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    slug: str | None = None,
    errors: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """Build one problem+json response; the only place that shapes error bodies."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + (slug or str(status)),
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_MIMETYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _negotiated(status: int, title: str, detail: str, **kwargs: Any) -> Response:
    """The web layer's HTML page when a browser asked for a page, else problem+json."""
    renderer: HtmlErrorRenderer | None = current_app.extensions.get(HTML_ERRORS_EXTENSION)
    if renderer is not None:
        try:
            page = renderer(status, title, detail)
        except Exception:  # an error page must never turn into a second error
            log.exception("rendering the HTML error page failed")
            page = None
        if page is not None:
            for name, value in (kwargs.get("headers") or {}).items():
                page.headers[name] = value
            return page
    return problem(status, title, detail, **kwargs)


def _from_panlearn_error(error: PanlearnError) -> Response:
    if error.status >= 500:
        log.warning("%s: %s", type(error).__name__, error.detail)
    return _negotiated(error.status, error.title, error.detail, slug=error.slug,
                       errors=error.errors, headers=error.headers)


def _from_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    errors = None
    # flask-smorest/webargs put marshmallow's messages in `data["messages"]`.
    data = getattr(error, "data", None)
    if isinstance(data, dict) and "messages" in data:
        errors = data["messages"]
    detail = error.description or error.name
    if status == 413:
        detail = "The upload is larger than the configured limit."
    if status == 422 and errors:
        detail = "The request did not validate; see `errors` for each field."
    # Keep the headers that tell a client what to do next.
    original = error.get_response().headers
    headers = {name: original[name] for name in ("Allow", "Retry-After") if name in original}
    return _negotiated(status, error.name, detail, errors=errors, headers=headers)


def _from_unexpected(error: Exception) -> Response:
    # Log the trace for operators; the user gets no internals.
    log.exception("unhandled error", exc_info=error)
    return _negotiated(500, "Internal error",
                       "Something went wrong on our side; it has been logged.")


def register_error_handlers(app: Flask) -> None:
    """Render every error as problem+json (an HTML page for browsers on page routes).

    Registered after flask-smorest so ours win.
    """
    app.register_error_handler(PanlearnError, _from_panlearn_error)
    app.register_error_handler(HTTPException, _from_http_exception)
    app.register_error_handler(Exception, _from_unexpected)

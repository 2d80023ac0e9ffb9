"""Error pages for browsers: the HTML face of the one problem+json mapping.

`panlearn.http.problems` decides status, title and detail for every error; it asks
this renderer first, which answers only for page routes (not /api, not the
JSON oEmbed endpoint) when the client prefers text/html, as a browser does.
API clients, and anyone asking for JSON, keep getting problem+json.
"""

from __future__ import annotations

from flask import Response, render_template, request

#: Paths that always answer problem+json, whatever the Accept header says.
JSON_ONLY_PREFIXES = ("/api/", "/oembed")

_OFFERS = ["application/problem+json", "application/json", "text/html"]


def wants_html() -> bool:
    """A browser asking for a page (Accept prefers text/html over JSON)."""
    if request.path == "/api" or request.path.startswith(JSON_ONLY_PREFIXES):
        return False
    return request.accept_mimetypes.best_match(_OFFERS) == "text/html"


#: Endpoints shown inside other sites' frames: their errors are small chrome-less pages.
FRAMED_ENDPOINTS = frozenset({"embed.lesson"})


def html_error_page(status: int, title: str, detail: str) -> Response | None:
    """The error as an HTML page, or None to let problem+json answer."""
    if not wants_html():
        return None
    template = "embed_error.html" if request.endpoint in FRAMED_ENDPOINTS else "error.html"
    body = render_template(template, status=status, title=title, detail=detail)
    return Response(body, status=status, mimetype="text/html")

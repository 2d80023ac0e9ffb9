"""Server-rendered pages, embeds, slides, and the static assets the platform serves itself.

Views here are thin: they parse the query string (`web.args`), call the
catalogue and notebook services, and render a Jinja template. Every response
gets the security headers of `web.security`; errors on page routes are shown
as HTML pages to browsers (`web.errors`), problem+json to everyone else.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, g, request

from panlearn.errors import PanlearnError
from panlearn.http.problems import HTML_ERRORS_EXTENSION
from panlearn.models import User
from panlearn.web import (
    account,
    assets,
    author,
    author_analytics,
    author_imports,
    credential_pages,
    embed,
    errors,
    pages,
    progress_pages,
    quizzes,
    rendering,
    search_page,
    security,
    signin,
    sso,
    submissions,
    vendor,
)

log = logging.getLogger(__name__)

#: Methods for which `current_user()` may be asked without an X-CSRFToken header.
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def page_viewer() -> User | None:
    """Who is signed in, for the page chrome; never raises.

    On a form POST (login, logout) the API's identity check would demand an
    X-CSRFToken header; the form's token was checked by CSRFProtect instead,
    and those views redirect, so the chrome simply shows nobody.
    """
    from panlearn.api.identity import current_user

    if request.method not in _SAFE_METHODS:
        return g.get("panlearn_user")
    try:
        return current_user()
    except PanlearnError:
        return None


def init_app(app: Flask) -> None:
    """Register the pages, CSRF protection, security headers and HTML error pages."""
    security.init_csrf(app)
    for module in (vendor, pages, embed, signin, sso, account, submissions, search_page,
                   progress_pages, author, author_imports, author_analytics, credential_pages,
                   quizzes):
        app.register_blueprint(module.bp)
    app.after_request(security.add_security_headers)
    app.extensions[HTML_ERRORS_EXTENSION] = errors.html_error_page
    # Looked up once: pages then cost no file access for it (restart after installing).
    app.extensions[rendering.ASSETS_EXTENSION] = assets.available()

    @app.context_processor
    def _chrome() -> dict[str, Any]:
        maths_css, maths_js = rendering.maths_assets()
        return {"viewer": page_viewer(), "maths_css": maths_css, "maths_js": maths_js}

    missing = assets.problems()
    if missing:
        log.warning("front-end assets: %s; pages work, but maths shows as TeX source and "
                    "slides do not run: %s, then restart", "; ".join(missing),
                    assets.INSTALL_HINT)

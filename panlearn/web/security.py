"""Security headers on every response, and CSRF protection of the page forms.

The Content-Security-Policy is the second line of defence behind the notebook
sanitiser: even if a script slipped through a rendered notebook, the browser
would run only the platform's own files (`script-src 'self'`), plus the one
constant inline script of the slides, allowed by its hash.

`style-src-attr 'unsafe-inline'` is needed because rendered notebooks keep
`style` attributes (sanitised down to presentational properties such as
markdown table alignment); `<style>` elements and style sheets stay 'self'
only. KaTeX and reveal.js set styles through the CSSOM, which CSP does not
restrict. CodeMirror (the live exercise page's editor) writes its style sheet
into a `<style>` element: such a page asks for a per-response nonce
(`style_nonce`) that only its own script is given, so styles from anywhere
else stay refused.

Framing is refused (`frame-ancestors 'none'`) except for the views that are
meant to be embedded, which call `allow_framing`. A page that a browser is
loading into a frame (`Sec-Fetch-Dest: iframe`) and that refuses framing is
answered with a small frameable page instead (`framing_refusal`): it says why
the page is not shown and links to the embeddable address, rather than leaving
the lecturer who pasted a lesson URL into an iframe with a browser error.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Iterable

from flask import Blueprint, Flask, Response, g, render_template, request, url_for
from flask_wtf.csrf import CSRFProtect

from panlearn.models import CourseVersion, VersionStatus
from panlearn.wiring import services

#: CSRF protection of the page forms (login, logout). The API is exempt: it
#: checks the X-CSRFToken header itself for cookie sessions (api/identity.py).
csrf = CSRFProtect()

#: Paths whose requests CSRFProtect leaves to their own check.
CSRF_EXEMPT_PREFIXES = ("/api/",)

#: The endpoint of flask-smorest's Swagger UI page, whose inline script is allowed by hash.
SWAGGER_UI_ENDPOINT = "api-docs.openapi_swagger_ui"

_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def init_csrf(app: Flask) -> None:
    """Protect every unsafe request to the pages with the session's CSRF token.

    The check runs for every path outside /api, whichever blueprint serves it
    and whenever it is registered, instead of listing API blueprints to exempt
    (a blueprint added later would otherwise be CSRF-checked by mistake and
    refuse bearer-token clients).
    """
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    # A token lives as long as the session: a student reading a lesson for two
    # hours can still sign out. The token is bound to the signed session anyway.
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    csrf.init_app(app)

    @app.before_request
    def _protect_pages() -> None:
        if not app.config.get("WTF_CSRF_ENABLED", True):
            return
        if request.path.startswith(CSRF_EXEMPT_PREFIXES):
            return
        # Checks only WTF_CSRF_METHODS (POST, PUT, PATCH, DELETE); 404s pass through.
        csrf.protect(apply_exemptions=True)


def register_csrf_exempt(app: Flask, blueprint: Blueprint) -> None:
    """Register a blueprint whose unsafe requests carry their own proof of origin.

    For protocols whose POSTs come from other sites by design (LTI launches
    signed with an id_token, OAI-PMH harvesters), never from our own forms.
    """
    app.register_blueprint(blueprint)
    csrf.exempt(blueprint)


def allow_framing(sources: Iterable[str]) -> None:
    """Let the current response be framed by these CSP sources (e.g. `*`, `'self'`)."""
    g.pl_frame_ancestors = " ".join(sources)


def allow_script(source: str) -> None:
    """Add a CSP script source (a `'sha256-…'` hash) to the current response."""
    g.setdefault("pl_script_sources", []).append(source)


def style_nonce() -> str:
    """A random nonce that lets the current page's own script add one `<style>` element."""
    if "pl_style_nonce" not in g:
        g.pl_style_nonce = secrets.token_urlsafe(18)
    return str(g.pl_style_nonce)


def allow_form_action(origins: Iterable[str]) -> None:
    """Let the current page's forms lead to these origins (`form-action`).

    Browsers check a form's whole redirect chain against the page's policy, so a
    form whose answer redirects to another site (an LMS's return URL, an
    identity provider's sign-out) needs that site's origin here.
    """
    sources = g.setdefault("pl_form_action", [])
    sources.extend(origin for origin in origins if origin not in sources)


def is_public(version: CourseVersion) -> bool:
    """Readable by anyone: published, or archived (kept for learners enrolled in it)."""
    return version.status != VersionStatus.DRAFT


def embed_frame_sources(public: bool) -> list[str]:
    """Who may frame an embed or slides: EMBED_ORIGINS when public, else only us.

    A draft is previewed by its authors on the platform itself; it must not
    appear inside someone else's page.
    """
    if not public:
        return ["'self'"]
    origins = str(services().settings["EMBED_ORIGINS"]).split()
    return origins or ["'self'"]


def _script_hashes(body: bytes) -> list[str]:
    return ["'sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode() + "'"
            for script in _INLINE_SCRIPT.findall(body)]


def content_security_policy(*, frame_ancestors: str, script_sources: Iterable[str] = (),
                            style_inline: bool = False,
                            form_action: Iterable[str] = (),
                            style_nonce: str | None = None) -> str:
    """The policy of one response."""
    script = " ".join(["'self'", *script_sources])
    forms = " ".join(["'self'", *form_action])
    style = "'self' 'unsafe-inline'" if style_inline else "'self'"
    if style_nonce and not style_inline:
        style += f" 'nonce-{style_nonce}'"
    return "; ".join([
        "default-src 'self'",
        "img-src 'self' data:",
        f"script-src {script}",
        f"style-src {style}",
        "style-src-attr 'unsafe-inline'",
        "object-src 'none'",
        "base-uri 'none'",
        f"form-action {forms}",
        f"frame-ancestors {frame_ancestors}",
    ])


#: `Sec-Fetch-Dest` values of a document loaded into another page.
_FRAMED_DESTINATIONS = frozenset({"iframe", "frame"})


def framing_refusal(response: Response) -> Response | None:
    """A frameable page explaining the refusal, for a framed page that refuses framing.

    Only successful HTML answers to GET are replaced (a redirect, an error or
    JSON keeps its meaning). The page holds no data of the viewer: the framed
    address, and for a lesson its `/embed/…` address.
    """
    if (request.method != "GET"
            or request.headers.get("Sec-Fetch-Dest") not in _FRAMED_DESTINATIONS
            or g.get("pl_frame_ancestors", "'none'") != "'none'"
            or response.status_code != 200 or response.mimetype != "text/html"):
        return None
    embed_url = None
    if request.endpoint == "pages.lesson" and request.view_args:
        embed_url = url_for("embed.lesson", lesson_id=request.view_args["lesson_id"],
                            _external=True)
    body = render_template("framing_refused.html", page_url=request.url, embed_url=embed_url)
    refusal = Response(body, mimetype="text/html")
    g.pl_frame_ancestors = "*"
    return refusal


def add_security_headers(response: Response) -> Response:
    """Set CSP, nosniff, Referrer-Policy and framing rules (an after_request hook)."""
    refusal = framing_refusal(response)
    if refusal is not None:
        response = refusal
    frame_ancestors = g.get("pl_frame_ancestors", "'none'")
    script_sources = list(g.get("pl_script_sources", []))
    style_inline = False
    if request.endpoint == SWAGGER_UI_ENDPOINT and response.mimetype == "text/html":
        # flask-smorest's page is a fixed template of ours to trust, not user content.
        script_sources += _script_hashes(response.get_data())
        style_inline = True
    response.headers["Content-Security-Policy"] = content_security_policy(
        frame_ancestors=frame_ancestors, script_sources=script_sources,
        style_inline=style_inline, form_action=g.get("pl_form_action", ()),
        style_nonce=g.get("pl_style_nonce"))
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    # For browsers without frame-ancestors; embeds rely on the CSP alone.
    if frame_ancestors == "'none'":
        response.headers["X-Frame-Options"] = "DENY"
    elif frame_ancestors == "'self'":
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response

"""Signing in and out of the browser session (no token: a signed session cookie).

The session stores the user id under `SESSION_USER_KEY`, which `api/identity.py`
reads, so a signed-in browser can also call the API (with the page's CSRF token
in X-CSRFToken for unsafe methods). Forms are CSRF-protected by Flask-WTF.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Response, redirect, render_template, request, session, url_for

from panlearn.accounts.service import authenticate
from panlearn.api.identity import SESSION_USER_KEY
from panlearn.api.throttle import login_limits
from panlearn.errors import UnauthorizedError
from panlearn.extensions import db
from panlearn.web.forms import LoginForm, LogoutForm

bp = Blueprint("signin", __name__)


def _safe_next(target: str | None) -> str:
    """A local path to return to after signing in; anything else goes to the catalogue.

    Refuses absolute and scheme-relative URLs (`//evil.example`, or with a backslash), so
    the login page cannot be used to send people to another site.
    """
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return url_for("pages.catalogue")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return url_for("pages.catalogue")
    return target


@bp.route("/login")
def login() -> str:
    """The sign-in form."""
    form = LoginForm()
    form.next.data = request.args.get("next", "")
    return render_template("login.html", form=form, failed=False)


@bp.route("/login", methods=["POST"])
@login_limits
def login_submit() -> Response | tuple[str, int]:
    """Check the credentials; on success a fresh session and a redirect to `next`.

    Throttled like `POST /api/auth/token` (per address, and a lockout per
    username after failures), so the form is no way around the API's limits.
    """
    form = LoginForm()
    if not form.validate():
        return render_template("login.html", form=form, failed=False), 400
    try:
        user = authenticate(db.session, form.username.data or "", form.password.data or "")
    except UnauthorizedError:
        return render_template("login.html", form=form, failed=True), 401
    # A new session on privilege change, so a planted session id gains nothing.
    session.clear()
    session[SESSION_USER_KEY] = user.id
    return redirect(_safe_next(form.next.data), code=303)


@bp.route("/logout", methods=["GET", "POST"])
def logout() -> Response | str:
    """GET: a page with the sign-out button; POST (CSRF-checked): end the session."""
    form = LogoutForm()
    if not form.is_submitted():
        return render_template("logout.html", form=form)
    # CSRFProtect has already checked the token before this view ran.
    session.clear()
    return redirect(url_for("pages.catalogue"), code=303)

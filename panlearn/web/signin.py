"""Signing in and out of the browser session (no token: a signed session cookie).

The session stores the user id under `SESSION_USER_KEY`, which `api/identity.py`
reads, so a signed-in browser can also call the API (with the page's CSRF token
in X-CSRFToken for unsafe methods). Forms are CSRF-protected by Flask-WTF.
The sign-in page offers a button per identity provider (`web/sso.py`) and the
password form unless `PANLEARN_LOCAL_LOGIN=false`; signing out of a provider's
session goes on to the provider's end-session endpoint (RP-initiated logout).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from panlearn.accounts.service import authenticate
from panlearn.api.identity import SESSION_USER_KEY
from panlearn.api.throttle import login_limits
from panlearn.errors import ForbiddenError, UnauthorizedError
from panlearn.extensions import db
from panlearn.models import User
from panlearn.web.forms import LoginForm, LogoutForm
from panlearn.wiring import services

log = logging.getLogger(__name__)

bp = Blueprint("signin", __name__)

#: Session key: the provider the session was signed in with, and its id_token (if short).
SESSION_SSO_KEY = "sso"
#: Longest id_token kept in the session cookie for `id_token_hint` (cookies hold ~4 KB).
ID_TOKEN_HINT_MAX = 2048


def safe_next(target: str | None) -> str:
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


def external_url(endpoint: str, **values: Any) -> str:
    """An absolute URL of ours, on PANLEARN_PUBLIC_URL when set (what providers registered)."""
    base = services().settings["PUBLIC_URL"]
    if base:
        return str(base).rstrip("/") + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)


def start_session(user: User, *, provider: str | None = None, id_token: str | None = None
                  ) -> None:
    """A new session for `user` (a planted session id gains nothing on privilege change)."""
    session.clear()
    session[SESSION_USER_KEY] = user.id
    if provider is not None:
        hint = id_token if id_token and len(id_token) <= ID_TOKEN_HINT_MAX else None
        session[SESSION_SSO_KEY] = {"provider": provider, "id_token": hint}


def local_login_enabled() -> bool:
    """Whether passwords are accepted here at all (PANLEARN_LOCAL_LOGIN)."""
    return bool(services().settings["LOCAL_LOGIN"])


def _login_page(form: LoginForm, *, failed: bool) -> str:
    return render_template("login.html", form=form, failed=failed,
                           providers=services().sso.providers,
                           local_login=local_login_enabled(), next=form.next.data or "")


@bp.route("/login")
def login() -> str:
    """The sign-in page: a button per identity provider, and the password form."""
    form = LoginForm()
    form.next.data = request.args.get("next", "")
    return _login_page(form, failed=False)


@bp.route("/login", methods=["POST"])
@login_limits
def login_submit() -> Response | tuple[str, int]:
    """Check the credentials; on success a fresh session and a redirect to `next`.

    Throttled like `POST /api/auth/token` (per address, and a lockout per
    username after failures), so the form is no way around the API's limits.
    """
    if not local_login_enabled():
        raise ForbiddenError("Signing in with a password is turned off here; use one of the "
                             "identity providers on the sign-in page.")
    form = LoginForm()
    if not form.validate():
        return _login_page(form, failed=False), 400
    try:
        user = authenticate(db.session, form.username.data or "", form.password.data or "")
    except UnauthorizedError:
        return _login_page(form, failed=True), 401
    start_session(user)
    return redirect(safe_next(form.next.data), code=303)


@bp.route("/logout", methods=["GET", "POST"])
def logout() -> Response | str:
    """GET: a page with the sign-out button; POST (CSRF-checked): end the session.

    A session signed in through a provider that offers an end-session endpoint
    is then sent there, to sign out of the provider too; it comes back here.
    """
    form = LogoutForm()
    if not form.is_submitted():
        return render_template("logout.html", form=form)
    # CSRFProtect has already checked the token before this view ran.
    signed_in_with = session.get(SESSION_SSO_KEY) or {}
    session.clear()
    if signed_in_with.get("provider"):
        url = services().sso.logout_url(
            str(signed_in_with["provider"]), post_logout_redirect_uri=external_url(
                "signin.logout"), id_token_hint=signed_in_with.get("id_token"))
        if url:
            return redirect(url, code=303)
    return redirect(url_for("pages.catalogue"), code=303)

"""Who is calling: a bearer token (API clients) or the signed session cookie (browsers)."""

from __future__ import annotations

from flask import g, request, session
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms import ValidationError

from panlearn.accounts.service import user_for_token
from panlearn.errors import ForbiddenError, UnauthorizedError
from panlearn.extensions import db
from panlearn.models import User

SESSION_USER_KEY = "user_id"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def current_user() -> User | None:
    """The authenticated user of this request, or None for anonymous visitors.

    A malformed or expired bearer token is an error (401), not anonymity: a
    client that sends credentials wants to know they failed. A browser session
    may change things through the API only with the page's CSRF token in the
    `X-CSRFToken` header, so another site cannot act with a visitor's cookie.
    """
    if "panlearn_user" in g:
        return g.panlearn_user
    user: User | None = None
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise UnauthorizedError("Use `Authorization: Bearer <token>`.")
        user = user_for_token(db.session, token.strip())
    elif SESSION_USER_KEY in session:
        user = db.session.get(User, session[SESSION_USER_KEY])
        if user is None or not user.is_active:
            session.pop(SESSION_USER_KEY, None)
            user = None
        elif request.method not in SAFE_METHODS and request.path.startswith("/api/"):
            # Page forms outside /api carry their token in the form, checked by CSRFProtect.
            _require_csrf_header()
    g.panlearn_user = user
    return user


def _require_csrf_header() -> None:
    try:
        validate_csrf(request.headers.get("X-CSRFToken"))
    except (ValidationError, CSRFError) as error:
        raise ForbiddenError(f"Missing or invalid CSRF token ({error}); send the page's token "
                             "in the X-CSRFToken header.") from None


def bearer_token() -> str | None:
    """The raw bearer token of this request, if any."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None

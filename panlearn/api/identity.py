"""Who is calling: a bearer token (API clients) or the signed session cookie (browsers)."""

from __future__ import annotations

from flask import g, request, session

from panlearn.accounts.service import user_for_token
from panlearn.errors import UnauthorizedError
from panlearn.extensions import db
from panlearn.models import User

SESSION_USER_KEY = "user_id"


def current_user() -> User | None:
    """The authenticated user of this request, or None for anonymous visitors.

    A malformed or expired bearer token is an error (401), not anonymity: a
    client that sends credentials wants to know they failed.
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
    g.panlearn_user = user
    return user


def bearer_token() -> str | None:
    """The raw bearer token of this request, if any."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None

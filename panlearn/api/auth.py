"""Tokens for API clients: exchange a username and password for a bearer token."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask_smorest import Blueprint

from panlearn.accounts.service import authenticate, issue_token, revoke_token
from panlearn.api.identity import bearer_token, current_user
from panlearn.api.throttle import login_limits
from panlearn.errors import ForbiddenError, UnauthorizedError
from panlearn.extensions import db
from panlearn.schemas.accounts import TokenRequestSchema, TokenSchema
from panlearn.wiring import services

bp = Blueprint("auth", __name__, url_prefix="/api/auth", description="Bearer tokens")


@bp.route("/token", methods=["POST"])
@login_limits
@bp.arguments(TokenRequestSchema)
@bp.response(201, TokenSchema)
def create_token(credentials: dict[str, Any]) -> dict[str, Any]:
    """Exchange a username and password for a bearer token (shown once).

    For accounts with a password only, and only while PANLEARN_LOCAL_LOGIN is on;
    people who sign in through an identity provider make personal tokens on
    their account page.
    """
    if not services().settings["LOCAL_LOGIN"]:
        raise ForbiddenError("Signing in with a password is turned off here; make a personal "
                             "API token on your account page (/account).")
    user = authenticate(db.session, credentials["username"], credentials["password"])
    ttl = timedelta(hours=services().settings["TOKEN_TTL_HOURS"])
    issued = issue_token(db.session, user, ttl=ttl)
    return {"token": issued.token, "token_type": "Bearer", "expires_at": issued.expires_at}


@bp.route("/token", methods=["DELETE"])
@bp.response(204)
@bp.doc(security=[{"bearer": []}])
def delete_token() -> None:
    """Revoke the token this request is made with."""
    token = bearer_token()
    if token is None or current_user() is None:
        raise UnauthorizedError("Send the token to revoke as `Authorization: Bearer <token>`.")
    revoke_token(db.session, token)

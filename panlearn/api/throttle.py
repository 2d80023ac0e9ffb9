"""Login throttling: per client address, and a lockout per username after failures.

Only failed logins count toward the lockout, so a user who types their password
right is never locked out by their own successes; an attacker guessing one
account's password is stopped after a few tries, from any address.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import request
from flask_limiter.util import get_remote_address

from panlearn.extensions import limiter
from panlearn.wiring import services


def _username() -> str:
    data: Any = request.get_json(silent=True) if request.is_json else request.form
    name = data.get("username") if isinstance(data, dict) or hasattr(data, "get") else None
    return f"user:{str(name or '').strip().lower()[:80]}"


def _failed(response: Any) -> bool:
    return response.status_code == 401 or (
        response.status_code == 200 and getattr(response, "login_failed", False))


def login_limits(view: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a login view with both limits, read from the settings at request time."""
    per_address = limiter.limit(lambda: services().settings["LOGIN_RATE"],
                                key_func=get_remote_address, scope="login-address")
    lockout = limiter.limit(lambda: services().settings["LOGIN_LOCKOUT"],
                            key_func=_username, deduct_when=_failed, scope="login-user",
                            error_message="Too many failed logins for this account; try again "
                                          "later.")
    return per_address(lockout(view))

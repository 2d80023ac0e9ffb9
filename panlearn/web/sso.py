"""Signing in with an identity provider (OpenID Connect), and linking one to an account.

`/login/sso/<provider>` sends the browser to the provider; the provider sends
it back to `/login/sso/<provider>/callback`, the redirect URI operators
register. A signed-in person who asked to link the provider from their
account page (`POST /account/identities/<provider>/link`) gets the identity
added to their account instead of a new sign-in. Whatever goes wrong is
shown as a page saying what to do, and logged with the reason.
"""

from __future__ import annotations

import logging

from flask import (
    Blueprint,
    Response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_limiter.util import get_remote_address

from panlearn.api.identity import SESSION_USER_KEY
from panlearn.errors import PanlearnError
from panlearn.extensions import db, limiter
from panlearn.models import User
from panlearn.sso.errors import SignInError
from panlearn.sso.signin import link_to_account, sign_in
from panlearn.web.security import allow_form_action
from panlearn.web.signin import external_url, safe_next, start_session
from panlearn.wiring import services

log = logging.getLogger(__name__)

bp = Blueprint("sso", __name__)

#: Session keys: where to go after signing in; the account a link was asked for.
_NEXT_KEY = "sso_next"
_LINK_KEY = "sso_link"


#: Each start of a sign-in stores its state until it is used or expires: as many starts per
#: client address as password attempts (PANLEARN_LOGIN_RATE).
_starts = limiter.limit(lambda: services().settings["LOGIN_RATE"],
                        key_func=get_remote_address, scope="sso-start")


def _redirect_uri(provider: str) -> str:
    return external_url("sso.callback", provider=provider)


@bp.before_app_request
def _allow_provider_forms() -> None:
    """Let page forms lead to the providers (signing out, linking): CSP `form-action`."""
    clients = services().sso
    if clients.providers:
        allow_form_action(clients.form_origins())


@bp.route("/login/sso/<provider>")
@_starts
def start(provider: str) -> Response:
    """Go to the provider to sign in, then come back to `next`."""
    clients = services().sso
    clients.provider(provider)
    session[_NEXT_KEY] = safe_next(request.args.get("next"))
    session.pop(_LINK_KEY, None)
    return clients.begin(provider, _redirect_uri(provider))


@bp.route("/account/identities/<provider>/link", methods=["POST"])
@_starts
def link(provider: str) -> Response:
    """Go to the provider to add that identity to the signed-in account (CSRF-checked form)."""
    clients = services().sso
    clients.provider(provider)
    user_id = session.get(SESSION_USER_KEY)
    if user_id is None:
        return redirect(url_for("signin.login", next=url_for("account.account")), code=303)
    session[_LINK_KEY] = {"provider": provider, "user_id": user_id}
    return clients.begin(provider, _redirect_uri(provider))


@bp.route("/login/sso/<provider>/callback")
def callback(provider: str) -> Response:
    """The provider's answer: verify it, then sign in (or link), and go on."""
    clients = services().sso
    config = clients.provider(provider)
    login = clients.finish(provider)
    wanted_link = session.pop(_LINK_KEY, None)
    if (wanted_link and wanted_link.get("provider") == provider
            and wanted_link.get("user_id") == session.get(SESSION_USER_KEY)):
        user = db.session.get(User, wanted_link["user_id"])
        if user is not None:
            link_to_account(db.session, user, config, login)
            log.info("%s linked identity %s of %s", user.username, login.sub, provider)
            return redirect(url_for("account.account"), code=303)
    target = session.get(_NEXT_KEY) or url_for("pages.catalogue")
    outcome = sign_in(db.session, config, login)
    log.info("%s signed in with %s%s", outcome.user.username, provider,
             " (new account)" if outcome.created else
             " (linked by verified e-mail)" if outcome.linked_by_email else "")
    start_session(outcome.user, provider=provider, id_token=login.id_token)
    return redirect(target, code=303)


@bp.errorhandler(PanlearnError)
def _sign_in_failed(error: PanlearnError) -> tuple[str, int]:
    """Every failure of these routes is a page for the person and a line for operators."""
    provider = (request.view_args or {}).get("provider", "?")
    reason = error.reason if isinstance(error, SignInError) else error.detail
    log.warning("sign-in with %s failed (%s): %s", provider, error.status, reason)
    return render_template("signin_error.html", title=error.title, detail=error.detail,
                           status=error.status), error.status

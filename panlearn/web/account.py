"""The account page: who you are here, how you sign in, and your personal API tokens.

People who sign in through an identity provider have no password, so
`POST /api/auth/token` is not for them: they make personal API tokens here,
named, with an expiry, shown once, and revocable. Linking an identity
provider starts at `web/sso.py`; removing one, and revoking a token, are
forms here. Every form is CSRF-protected and acts on the signed-in account
only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import Blueprint, Response, make_response, redirect, render_template, url_for

from panlearn.accounts.identities import unlink_identity
from panlearn.accounts.service import (
    IssuedToken,
    has_password,
    issue_token,
    live_tokens,
    revoke_token_of,
)
from panlearn.api.identity import current_user
from panlearn.extensions import db
from panlearn.models import Identity, IdentityKind, User
from panlearn.sso.providers import ProviderConfig
from panlearn.web.forms import TokenForm
from panlearn.wiring import services

bp = Blueprint("account", __name__)


@dataclass(frozen=True)
class LinkedIdentity:
    """An identity as the page shows it."""

    id: int
    label: str
    identity: Identity
    removable: bool


def _label(identity: Identity, providers: dict[str, ProviderConfig]) -> str:
    if identity.kind == IdentityKind.LTI:
        return f"Your LMS ({identity.issuer})"
    provider = providers.get(identity.provider or "")
    return provider.display_name if provider else (identity.provider or identity.issuer)


def _page(user: User, form: TokenForm, *, new_token: IssuedToken | None = None,
          new_token_name: str | None = None) -> str:
    providers = {provider.name: provider for provider in services().sso.providers}
    ways_in = len(user.identities) + (1 if has_password(user) else 0)
    linked = [LinkedIdentity(id=identity.id, label=_label(identity, providers),
                             identity=identity,
                             removable=identity.kind == IdentityKind.OIDC and ways_in > 1)
              for identity in user.identities]
    linked_providers = {identity.provider for identity in user.identities}
    source = providers.get(user.role_source or "")
    return render_template(
        "account.html", user=user, identities=linked, has_password=has_password(user),
        role_source=source.display_name if source else user.role_source,
        linkable=[p for p in providers.values() if p.name not in linked_providers],
        tokens=live_tokens(db.session, user), form=form, new_token=new_token,
        new_token_name=new_token_name)


def _login() -> Response:
    return redirect(url_for("signin.login", next=url_for("account.account")), code=303)


@bp.route("/account")
def account() -> Response | str:
    """The signed-in person's account."""
    user = current_user()
    if user is None:
        return _login()
    return _page(user, TokenForm())


@bp.route("/account/tokens", methods=["POST"])
def create_token() -> Response | tuple[str, int]:
    """Make a personal API token and show it, this once (the page is not cached)."""
    user = current_user()
    if user is None:
        return _login()
    form = TokenForm()
    if not form.validate():
        return _page(user, form), 400
    issued = issue_token(db.session, user, ttl=timedelta(days=int(form.days.data or 30)),
                         name=form.name.data)
    response = make_response(_page(user, TokenForm(formdata=None), new_token=issued,
                                   new_token_name=form.name.data), 201)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/account/tokens/<int:token_id>/revoke", methods=["POST"])
def revoke_token(token_id: int) -> Response:
    """Revoke one of your tokens; programs using it are refused from now on."""
    user = current_user()
    if user is None:
        return _login()
    revoke_token_of(db.session, user, token_id)
    return redirect(url_for("account.account"), code=303)


@bp.route("/account/identities/<int:identity_id>/unlink", methods=["POST"])
def unlink(identity_id: int) -> Response:
    """Stop signing in with one identity provider (not the last way in)."""
    user = current_user()
    if user is None:
        return _login()
    unlink_identity(db.session, user, identity_id)
    return redirect(url_for("account.account"), code=303)

"""Signing in with a provider's verified claims: find, link or make the account; apply roles.

These use cases start where the protocol ends: `client.OidcClients.finish`
has checked state, PKCE, the id_token's signature, issuer, audience, nonce
and expiry, and hands over a `VerifiedLogin`. From here on it is accounts:
the identity (issuer, sub) finds its account, or a verified e-mail finds
one where the provider is trusted for that, or a new student account is
made from the claims; then the provider's role rules are applied.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from panlearn.accounts.identities import (
    IdentityKey,
    NewAccount,
    active,
    find_identity,
    link_identity,
    user_for_identity,
    user_with_verified_email,
)
from panlearn.models import Identity, IdentityKind, User
from panlearn.sso.providers import ProviderConfig
from panlearn.sso.roles import apply_grant, grant_from_claims


@dataclass(frozen=True)
class VerifiedLogin:
    """What a provider vouched for, after every protocol check."""

    provider: str
    issuer: str
    sub: str
    claims: Mapping[str, Any]
    id_token: str


@dataclass(frozen=True)
class SignInOutcome:
    """The signed-in account; whether it was made now, or found by a verified e-mail."""

    user: User
    created: bool = False
    linked_by_email: bool = False


def verified_email(claims: Mapping[str, Any]) -> str | None:
    """The e-mail address, if the provider says it verified it (an unverified one is anyone's)."""
    email = claims.get("email")
    verified = claims.get("email_verified")
    if not isinstance(email, str) or "@" not in email or len(email) > 254:
        return None
    return email.lower() if verified is True or verified == "true" else None


def new_account(claims: Mapping[str, Any]) -> NewAccount:
    """The account a first sign-in makes: a username from the claims, made unique later."""
    email = claims.get("email") if isinstance(claims.get("email"), str) else None
    name = claims.get("name") if isinstance(claims.get("name"), str) else None
    if not name:
        parts = [claims.get(part) for part in ("given_name", "family_name")]
        name = " ".join(p for p in parts if isinstance(p, str) and p) or None
    wanted = next((value for value in (claims.get("preferred_username"),
                                       email.split("@")[0] if email else None, name)
                   if isinstance(value, str) and value.strip()), "user")
    return NewAccount(username=wanted, email=verified_email(claims),
                      display_name=name[:200] if name else None)


def _key(provider: ProviderConfig, login: VerifiedLogin) -> IdentityKey:
    return IdentityKey(login.issuer, login.sub, IdentityKind.OIDC, provider.name)


def sign_in(session: Session, provider: ProviderConfig, login: VerifiedLogin) -> SignInOutcome:
    """The account of this provider identity, found, linked by e-mail, or made; roles applied."""
    key = _key(provider, login)
    linked_by_email = False
    if provider.link_by_verified_email and find_identity(session, key.issuer, key.sub) is None:
        email = verified_email(login.claims)
        owner = user_with_verified_email(session, email) if email else None
        if owner is not None:
            link_identity(session, active(owner), key)
            linked_by_email = True
    user, created = user_for_identity(session, key, new_account(login.claims))
    apply_grant(session, user, provider.name, grant_from_claims(provider.roles, login.claims))
    session.commit()
    return SignInOutcome(user=user, created=created, linked_by_email=linked_by_email)


def link_to_account(session: Session, user: User, provider: ProviderConfig,
                    login: VerifiedLogin) -> Identity:
    """Link this provider identity to a signed-in account; the provider's roles apply to it."""
    identity = link_identity(session, active(user), _key(provider, login))
    apply_grant(session, user, provider.name, grant_from_claims(provider.roles, login.claims))
    session.commit()
    return identity

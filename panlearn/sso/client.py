"""The OpenID Connect relying party: Authlib's Flask client, configured from the identity file.

Authlib does the protocol: discovery, the authorisation request with
`state`, `nonce` and a PKCE S256 challenge, the code exchange, the id_token's
signature against the provider's JWKS (fetched again when a key id is new,
so key rotation needs nothing), its expiry within the configured clock skew,
and the nonce. Three things are added here:

- the id_token's `iss` must be the discovered issuer and its `aud` must name
  our client id (Authlib checks `azp` but not `aud` by itself);
- the discovered issuer must be the configured one (Discovery §4.3), so a
  provider cannot speak for another;
- what a sign-in remembers between leaving and coming back lives in the
  database (`LoginStateStore`), and reading it deletes it: a `state` is good
  once, even with a replayed cookie, in any process.

Every failure becomes a `SignInError` naming the reason, never a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flask import Flask, Response
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from panlearn.errors import NotFoundError
from panlearn.models import LoginState, utcnow
from panlearn.sso.errors import SignInError
from panlearn.sso.providers import ProviderConfig
from panlearn.sso.signin import VerifiedLogin

if TYPE_CHECKING:  # Authlib (and requests, joserfc) load with the first sign-in, not at start-up
    from authlib.integrations.flask_client import OAuth

log = logging.getLogger(__name__)

#: Claims only the id_token may set; userinfo adds the others (groups, entitlements).
_TOKEN_CLAIMS = frozenset({"iss", "sub", "aud", "exp", "iat", "nbf", "auth_time", "nonce",
                           "acr", "amr", "azp", "at_hash", "c_hash", "sid", "jti"})


class LoginStateStore:
    """Authlib's cache interface (`get`, `set`, `delete`) over the `login_state` table."""

    def __init__(self, session: Callable[[], Session]) -> None:
        self._session = session

    def get(self, key: str) -> str | None:
        """The value, deleted as it is read: only the first reader gets it."""
        session = self._session()
        value = session.scalar(select(LoginState.value).where(
            LoginState.key == key, LoginState.expires_at > utcnow()))
        taken = session.execute(delete(LoginState).where(LoginState.key == key)).rowcount
        session.commit()
        return value if taken == 1 else None

    def set(self, key: str, value: str, expires_in: int) -> None:
        """Remember a value for `expires_in` seconds (and forget expired ones)."""
        session = self._session()
        now = utcnow()
        session.execute(delete(LoginState).where(LoginState.expires_at < now))
        session.merge(LoginState(key=key, value=value,
                                 expires_at=now + timedelta(seconds=expires_in)))
        session.commit()

    def delete(self, key: str) -> None:
        """Forget a value."""
        session = self._session()
        session.execute(delete(LoginState).where(LoginState.key == key))
        session.commit()


def _origin(url: object) -> str | None:
    parts = urlsplit(str(url or ""))
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


class OidcClients:
    """The configured providers, each an Authlib client registered on the app at first use."""

    def __init__(self, app: Flask, providers: list[ProviderConfig], *, state: LoginStateStore,
                 timeout_s: float, clock_skew_s: int) -> None:
        self._app, self._state, self._timeout_s = app, state, timeout_s
        self._providers = {provider.name: provider for provider in providers}
        self._clock_skew_s = clock_skew_s

    @cached_property
    def _oauth(self) -> OAuth:
        """Authlib's registry of the providers (built once, at the first sign-in)."""
        from authlib.integrations.flask_client import OAuth

        oauth = OAuth(self._app, cache=self._state)
        for provider in self._providers.values():
            oauth.register(
                provider.name, client_id=provider.client_id,
                client_secret=provider.client_secret,
                server_metadata_url=provider.discovery_url,
                client_kwargs={
                    "scope": " ".join(provider.scopes),
                    "code_challenge_method": "S256",
                    "token_endpoint_auth_method": ("client_secret_basic"
                                                   if provider.client_secret else "none"),
                    "default_timeout": self._timeout_s,
                })
        return oauth

    @property
    def providers(self) -> list[ProviderConfig]:
        """Every configured provider, in the identity file's order."""
        return list(self._providers.values())

    def provider(self, name: str) -> ProviderConfig:
        """One provider by name; unknown names are 404."""
        try:
            return self._providers[name]
        except KeyError:
            raise NotFoundError(f"No identity provider {name!r} is configured here.") from None

    def begin(self, name: str, redirect_uri: str) -> Response:
        """The redirect to the provider's authorisation endpoint (state, nonce, PKCE kept)."""
        provider = self.provider(name)
        with _translated(provider):
            self._metadata(provider)
            return self._oauth.create_client(name).authorize_redirect(redirect_uri)

    def finish(self, name: str) -> VerifiedLogin:
        """Check the provider's answer at the redirect URI and return who it vouched for."""
        provider = self.provider(name)
        client = self._oauth.create_client(name)
        with _translated(provider):
            metadata = self._metadata(provider)
            token = client.authorize_access_token(
                leeway=self._clock_skew_s,
                claims_options={"iss": {"essential": True, "value": metadata["issuer"]},
                                "aud": {"essential": True, "value": provider.client_id}})
            id_claims = token.get("userinfo")
            if not id_claims or not token.get("id_token"):
                raise SignInError(f"{provider.display_name} sent no id_token.",
                                  reason="token response without id_token", status=502)
            claims = dict(id_claims)
            if metadata.get("userinfo_endpoint"):
                info = client.userinfo(token=token)
                if info.get("sub") != id_claims["sub"]:
                    raise SignInError(f"{provider.display_name} answered for someone else.",
                                      reason="userinfo sub differs from the id_token's",
                                      status=401)
                claims.update({k: v for k, v in info.items() if k not in _TOKEN_CLAIMS})
        return VerifiedLogin(provider=name, issuer=str(id_claims["iss"]),
                             sub=str(id_claims["sub"]), claims=claims,
                             id_token=str(token["id_token"]))

    def logout_url(self, name: str, *, post_logout_redirect_uri: str,
                   id_token_hint: str | None) -> str | None:
        """The provider's end-session URL (RP-initiated logout), or None if it has none."""
        provider = self._providers.get(name)
        if provider is None:
            return None
        try:
            with _translated(provider):
                if not self._metadata(provider).get("end_session_endpoint"):
                    return None
                result = self._oauth.create_client(name).create_logout_url(
                    post_logout_redirect_uri=post_logout_redirect_uri,
                    id_token_hint=id_token_hint, client_id=provider.client_id)
        except SignInError as error:
            log.warning("sign-out at %s skipped: %s", name, error.reason)
            return None
        return str(result["url"])

    def discover(self, name: str) -> Mapping[str, Any]:
        """The provider's discovery document, checked; a `SignInError` says what is wrong."""
        provider = self.provider(name)
        with _translated(provider):
            return self._metadata(provider)

    def form_origins(self) -> list[str]:
        """Origins our forms may lead to: each issuer, and its endpoints once discovered.

        A form's POST that redirects to the provider (linking, signing out) is
        checked against the page's CSP `form-action`.
        """
        origins: list[str] = []
        for provider in self._providers.values():
            metadata = self._oauth.create_client(provider.name).server_metadata
            for url in (provider.issuer, metadata.get("authorization_endpoint"),
                        metadata.get("end_session_endpoint")):
                origin = _origin(url)
                if origin and origin not in origins:
                    origins.append(origin)
        return origins

    def _metadata(self, provider: ProviderConfig) -> Mapping[str, Any]:
        metadata = self._oauth.create_client(provider.name).load_server_metadata()
        if str(metadata.get("issuer", "")).rstrip("/") != provider.issuer.rstrip("/"):
            # Drop it, so that a corrected provider is read again.
            self._oauth.create_client(provider.name).server_metadata.pop("_loaded_at", None)
            raise SignInError(f"{provider.display_name} is misconfigured here; please tell "
                              "the site's operators.",
                              reason=f"discovery names issuer {metadata.get('issuer')!r}, "
                                     f"configured {provider.issuer!r}", status=502)
        return metadata


class _translated:
    """Turn every way a provider exchange can fail into a `SignInError`."""

    def __init__(self, provider: ProviderConfig) -> None:
        self._provider = provider

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: object) -> bool:
        if error is None or isinstance(error, SignInError | NotFoundError):
            return False
        translated = _sign_in_error(self._provider.display_name, error)
        if translated is None:
            return False
        raise translated from error


def _sign_in_error(name: str, error: BaseException) -> SignInError | None:
    import requests
    from authlib.integrations.base_client import MismatchingStateError, OAuthError
    from joserfc.errors import ClaimError, ExpiredTokenError, InvalidClaimError, JoseError

    again = "Please sign in again."
    if isinstance(error, MismatchingStateError):
        return SignInError(f"This sign-in was already completed, has expired, or was started "
                           f"in another browser. {again}", reason="unknown or replayed state")
    if isinstance(error, OAuthError):
        code = str(error.error or "")
        if code == "invalid_grant":
            return SignInError(f"{name} did not accept the sign-in code: it expired or was "
                               f"already used. {again}",
                               reason=f"invalid_grant: {error.description}")
        if code in {"access_denied", "login_required", "consent_required",
                    "interaction_required"}:
            return SignInError(f"{name} did not sign you in ({code}).",
                               reason=f"{code}: {error.description}", status=401)
        return SignInError(f"{name} refused the sign-in ({code or 'no reason given'}).",
                           reason=f"{code}: {error.description}", status=502)
    if isinstance(error, ExpiredTokenError):
        return SignInError(f"{name}'s answer has expired; check the clocks. {again}",
                           reason="id_token expired (exp)", status=401)
    if isinstance(error, ClaimError):
        claim = str(getattr(error, "claim", "") or error.description or "")
        reasons = {"aud": "id_token for another audience (aud)",
                   "azp": "id_token for another authorised party (azp)",
                   "nonce": "id_token nonce does not match this sign-in",
                   "iss": "id_token from another issuer (iss)"}
        reason = next((text for key, text in reasons.items() if key in claim),
                      f"id_token claim refused: {claim}")
        kind = "missing" if not isinstance(error, InvalidClaimError) else "wrong"
        return SignInError(f"{name}'s answer could not be verified ({reason}). {again}",
                           reason=f"{reason} [{kind}]", status=401)
    if isinstance(error, JoseError):
        return SignInError(f"{name}'s answer could not be verified. {again}",
                           reason=f"id_token refused: {type(error).__name__}: {error}",
                           status=401)
    if isinstance(error, requests.Timeout | requests.ConnectionError):
        return SignInError(f"{name} cannot be reached at the moment. Please try again later.",
                           reason=f"provider unreachable: {type(error).__name__}", status=504)
    if isinstance(error, requests.RequestException | ValueError | RuntimeError | KeyError):
        return SignInError(f"{name} answered with an error. Please try again later.",
                           reason=f"unusable provider answer: {type(error).__name__}: {error}",
                           status=502)
    return None


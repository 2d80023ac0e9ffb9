"""A real OpenID provider on 127.0.0.1, in the test process: oidc-provider-mock behind a gate.

oidc-provider-mock (Authlib's server side) does discovery, the authorisation
page, codes, RS256 id_tokens with a JWKS, userinfo, dynamic client
registration and an end-session page. The gate in front of it adds what a
real provider does and the mock does not, and the faults the tests need:

- PKCE is required and checked: the authorisation request must carry an
  S256 `code_challenge`, and the token request's `code_verifier` must match
  it (else `invalid_grant`, as Keycloak answers);
- codes can be expired on demand (`expire_codes`: `invalid_grant`);
- the authorisation request's `nonce` can be replaced (`wrong_nonce`), and
  the client the provider issues tokens to can be swapped for another
  registered client (`issue_to`), which gives id_tokens a wrong `aud`;
- every request is recorded (`requests`), so a test can show the flow.
"""

from __future__ import annotations

import base64
import hashlib
import io
import threading
import time
import warnings
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import authlib.deprecate  # noqa: F401  (installs its "always" filter before ours below)
import requests
from werkzeug.serving import make_server

with warnings.catch_warnings():
    # The mock imports Authlib's deprecated `authlib.jose` and httpx client; not ours to fix.
    warnings.simplefilter("ignore")
    import oidc_provider_mock


@dataclass(frozen=True)
class Seen:
    """One request the provider received."""

    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]


@dataclass
class RegisteredClient:
    """A client registered with the provider (dynamic registration)."""

    client_id: str
    client_secret: str


@dataclass
class _Gate:
    inner: Any
    requests: list[Seen] = field(default_factory=list)
    challenges: dict[str, tuple[str, str]] = field(default_factory=dict)
    expired: set[str] = field(default_factory=set)
    wrong_nonce: str | None = None
    delay_s: float = 0.0
    issue_to: RegisteredClient | None = None
    _swapped_from: dict[str, str] = field(default_factory=dict)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path, method = environ.get("PATH_INFO", ""), environ["REQUEST_METHOD"]
        query = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
        body = b""
        if method == "POST":
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        form = dict(parse_qsl(body.decode(), keep_blank_values=True)) if body else {}
        self.requests.append(Seen(method, path, query, form))
        if self.delay_s:
            time.sleep(self.delay_s)

        if path == "/oauth2/authorize":
            if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
                return _error(start_response, "invalid_request", "PKCE (S256) is required")
            if self.wrong_nonce is not None:
                query["nonce"] = self.wrong_nonce
            if self.issue_to is not None:
                query["client_id"] = self.issue_to.client_id
            environ["QUERY_STRING"] = urlencode(query)
        if path == "/oauth2/token" and form.get("grant_type") == "authorization_code":
            code = form.get("code", "")
            if code in self.expired:
                return _error(start_response, "invalid_grant", "the code has expired")
            challenge, _ = self.challenges.get(code, ("", ""))
            verifier = form.get("code_verifier", "")
            if not verifier or _s256(verifier) != challenge:
                return _error(start_response, "invalid_grant", "PKCE verification failed")
            if self.issue_to is not None:
                environ["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(
                    f"{self.issue_to.client_id}:{self.issue_to.client_secret}".encode()).decode()
        if method == "POST":
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))

        def remember_code(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            location = dict(headers).get("Location", "")
            code = parse_qs(urlsplit(location).query).get("code", [""])[0]
            if path == "/oauth2/authorize" and code:
                self.challenges[code] = (query["code_challenge"], query["code_challenge_method"])
            return start_response(status, headers, *args)

        return self.inner(environ, remember_code)


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _error(start_response: Any, error: str, description: str) -> list[bytes]:
    import json

    start_response("400 BAD REQUEST", [("Content-Type", "application/json")])
    return [json.dumps({"error": error, "error_description": description}).encode()]


class Provider:
    """The provider, serving on 127.0.0.1 until `stop`."""

    def __init__(self) -> None:
        self._gate = _Gate(oidc_provider_mock.app(require_client_registration=True,
                                                  require_nonce=True))
        self._server = make_server("127.0.0.1", 0, self._gate, threaded=True)
        self.issuer = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> Provider:
        """Serve in a thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: from now on connections are refused (a provider that is down)."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def register(self, redirect_uri: str) -> RegisteredClient:
        """Register a confidential client, as an operator does at the provider."""
        answer = requests.post(f"{self.issuer}/oauth2/clients", json={
            "redirect_uris": [redirect_uri], "token_endpoint_auth_method": "client_secret_basic",
        }, timeout=10)
        answer.raise_for_status()
        body = answer.json()
        return RegisteredClient(client_id=body["client_id"], client_secret=body["client_secret"])

    def set_user(self, sub: str, claims: dict[str, Any]) -> None:
        """What the provider says about `sub` from now on (its directory entry)."""
        requests.put(f"{self.issuer}/users/{sub}", json=claims, timeout=10).raise_for_status()

    @property
    def requests(self) -> list[Seen]:
        """Every request received, in order."""
        return self._gate.requests

    def expire_codes(self) -> None:
        """Every code issued so far has expired."""
        self._gate.expired.update(self._gate.challenges)

    def send_wrong_nonce(self, nonce: str | None = "not-the-nonce-of-this-sign-in") -> None:
        """Put another nonce into the id_tokens of the next sign-ins."""
        self._gate.wrong_nonce = nonce

    def answer_after(self, seconds: float) -> None:
        """Keep every request waiting this long before answering (a provider that hangs)."""
        self._gate.delay_s = seconds

    def issue_to(self, client: RegisteredClient | None) -> None:
        """Issue codes and tokens to another client (id_tokens then name it as `aud`)."""
        self._gate.issue_to = client

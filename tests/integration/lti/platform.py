"""A real LTI 1.3 platform, simulated on 127.0.0.1: OIDC auth, JWKS, token endpoint, AGS.

It does what Moodle or Canvas do, with its own RSA keys: answers the tool's
OIDC authentication redirect with a signed id_token auto-posted to the tool,
publishes its JWKS, issues access tokens to client-credentials requests whose
JWT assertion verifies against the tool's JWKS (fetched over HTTP), accepts
AGS scores on line items, and receives deep-linking responses (verified the
same way). Launches are described in advance by the test (`plan`) and named
by `lti_message_hint`; a plan may ask for a broken id_token.
"""

from __future__ import annotations

import html
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwcrypto.jwk import JWK
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
LINEITEM_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"


def _rsa_pem() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


@dataclass
class Platform:
    """The simulated LMS; start() it, then point the tool's registration at its URLs."""

    client_id: str = "panlearn-client"
    deployment_id: str = "deployment-1"
    kid: str = "platform-key-1"
    tool_jwks_url: str = ""
    tool_launch_url: str = ""
    base_url: str = ""
    plans: dict[str, dict[str, Any]] = field(default_factory=dict)
    scores: list[dict[str, Any]] = field(default_factory=list)
    deep_link_responses: list[dict[str, Any]] = field(default_factory=list)
    token_requests: list[dict[str, Any]] = field(default_factory=list)
    #: Set to an HTTP status to make the AGS score endpoint fail.
    score_status: int = 200

    def __post_init__(self) -> None:
        self.private_pem, self.public_pem = _rsa_pem()
        self.other_private_pem, _ = _rsa_pem()
        self._tokens: dict[str, str] = {}

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> Platform:
        """Serve on a free port of 127.0.0.1 in a thread."""
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.base_url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._thread.join(timeout=5)

    @property
    def issuer(self) -> str:
        """The platform's issuer, as LMSs use their base URL."""
        return self.base_url

    def urls(self) -> dict[str, str]:
        """What an LMS admin copies into the tool's registration."""
        return {"auth_login_url": f"{self.base_url}/auth",
                "auth_token_url": f"{self.base_url}/token",
                "key_set_url": f"{self.base_url}/jwks"}

    # -- what the test asks for -------------------------------------------------------------

    def plan(self, claims: dict[str, Any], *, sub: str = "student-42", **tamper: Any) -> str:
        """Describe a launch; returns the `lti_message_hint` that names it."""
        hint = secrets.token_hex(8)
        self.plans[hint] = {"claims": claims, "sub": sub, "tamper": tamper}
        return hint

    def resource_claims(self, target_link_uri: str, *, custom: dict[str, str] | None = None,
                        lineitem: str | None = None, roles: list[str] | None = None
                        ) -> dict[str, Any]:
        """The claims of a resource-link launch, with an AGS endpoint when `lineitem`."""
        claims: dict[str, Any] = {
            CLAIM + "message_type": "LtiResourceLinkRequest",
            CLAIM + "resource_link": {"id": "resource-link-" + secrets.token_hex(4)},
            CLAIM + "target_link_uri": target_link_uri,
            CLAIM + "roles": roles or [LEARNER],
            CLAIM + "context": {"id": "course-7", "title": "Neutron school"},
        }
        if custom:
            claims[CLAIM + "custom"] = custom
        if lineitem:
            claims["https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"] = {
                "scope": [SCORE_SCOPE, LINEITEM_SCOPE], "lineitem": lineitem,
                "lineitems": f"{self.base_url}/lineitems"}
        return claims

    def deep_link_claims(self, *, accept_multiple: bool = True) -> dict[str, Any]:
        """The claims of a deep-linking request from a teacher."""
        return {
            CLAIM + "message_type": "LtiDeepLinkingRequest",
            CLAIM + "roles": [INSTRUCTOR],
            CLAIM + "target_link_uri": self.tool_launch_url,
            "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings": {
                "deep_link_return_url": f"{self.base_url}/deep-link-return",
                "accept_types": ["ltiResourceLink"],
                "accept_presentation_document_targets": ["iframe", "window"],
                "accept_multiple": accept_multiple,
                "data": "platform-opaque-data",
            },
        }

    def lineitem_url(self, name: str) -> str:
        """A line item of the platform's gradebook."""
        return f"{self.base_url}/lineitems/{name}"

    # -- HTTP -------------------------------------------------------------------------------

    def _wsgi(self, environ: Any, start_response: Any) -> Any:
        request = Request(environ)
        routes = {("GET", "/jwks"): self._jwks, ("GET", "/auth"): self._auth,
                  ("POST", "/auth"): self._auth, ("POST", "/token"): self._token,
                  ("POST", "/deep-link-return"): self._deep_link_return}
        handler = routes.get((request.method, request.path))
        if handler is None and request.method == "POST" and re.fullmatch(
                r"/lineitems/[\w-]+/scores", request.path):
            handler = self._score
        response = handler(request) if handler else Response("not found", status=404)
        return response(environ, start_response)

    def _jwks(self, request: Request) -> Response:
        jwk = json.loads(JWK.from_pem(self.public_pem.encode()).export_public())
        jwk.update({"kid": self.kid, "alg": "RS256", "use": "sig"})
        return Response(json.dumps({"keys": [jwk]}), mimetype="application/json")

    def _auth(self, request: Request) -> Response:
        params = request.values
        if params.get("client_id") != self.client_id or \
                params.get("redirect_uri") != self.tool_launch_url or \
                params.get("response_type") != "id_token" or params.get("scope") != "openid":
            return Response("invalid authentication request", status=400)
        plan = self.plans.get(params.get("lti_message_hint", ""))
        if plan is None:
            return Response("unknown launch", status=400)
        tamper = plan["tamper"]
        now = int(time.time())
        claims = {
            "iss": self.issuer, "aud": tamper.get("aud", self.client_id), "sub": plan["sub"],
            "iat": now, "exp": now - 60 if tamper.get("expired") else now + 300,
            "nonce": tamper.get("nonce", params["nonce"]),
            CLAIM + "deployment_id": tamper.get("deployment_id", self.deployment_id),
            CLAIM + "version": "1.3.0",
            **plan["claims"],
        }
        if "azp" in tamper:
            claims["azp"] = tamper["azp"]
        key = self.other_private_pem if tamper.get("bad_signature") else self.private_pem
        id_token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": self.kid})
        page = (f'<form method="post" action="{html.escape(params["redirect_uri"])}">'
                f'<input type="hidden" name="id_token" value="{id_token}">'
                f'<input type="hidden" name="state" value="{html.escape(params["state"])}">'
                "</form>")
        return Response(page, mimetype="text/html")

    def _tool_claims(self, token: str, audience: str) -> dict[str, Any]:
        keys = requests.get(self.tool_jwks_url, timeout=10).json()["keys"]
        kid = jwt.get_unverified_header(token).get("kid")
        key = next(k for k in keys if k["kid"] == kid)
        public = jwt.PyJWK(key).key
        return jwt.decode(token, public, algorithms=["RS256"], audience=audience)

    def _token(self, request: Request) -> Response:
        form = request.form
        self.token_requests.append(dict(form))
        if form.get("grant_type") != "client_credentials" or form.get("client_assertion_type") \
                != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
            return Response(json.dumps({"error": "unsupported_grant_type"}), status=400)
        try:
            assertion = self._tool_claims(form["client_assertion"], f"{self.base_url}/token")
        except Exception as error:  # noqa: BLE001 - any failure is an invalid client
            return Response(json.dumps({"error": "invalid_client", "detail": str(error)}),
                            status=401, mimetype="application/json")
        if assertion["iss"] != self.client_id or assertion["sub"] != self.client_id:
            return Response(json.dumps({"error": "invalid_client"}), status=401)
        token = secrets.token_urlsafe(16)
        self._tokens[token] = form.get("scope", "")
        return Response(json.dumps({"access_token": token, "token_type": "Bearer",
                                    "expires_in": 3600, "scope": form.get("scope", "")}),
                        mimetype="application/json")

    def _score(self, request: Request) -> Response:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if SCORE_SCOPE not in self._tokens.get(token, "").split():
            return Response("unauthorized", status=401)
        if request.mimetype != "application/vnd.ims.lis.v1.score+json":
            return Response("unsupported media type", status=415)
        if self.score_status != 200:
            return Response("gradebook unavailable", status=self.score_status)
        self.scores.append({"lineitem": request.path.removesuffix("/scores"),
                            **json.loads(request.get_data())})
        return Response("", status=204)

    def _deep_link_return(self, request: Request) -> Response:
        claims = self._tool_claims(request.form["JWT"], self.issuer)
        self.deep_link_responses.append(claims)
        return Response("thanks", mimetype="text/plain")


def login_url(tool_base: str, platform: Platform, hint: str, target: str) -> str:
    """The third-party login initiation URL an LMS sends the browser to."""
    return f"{tool_base}/lti/login?" + urlencode({
        "iss": platform.issuer, "login_hint": "opaque-user-hint", "target_link_uri": target,
        "lti_message_hint": hint, "client_id": platform.client_id,
        "lti_deployment_id": platform.deployment_id})


def form_fields(page: str) -> tuple[str, dict[str, str]]:
    """The action and hidden fields of the first form of an HTML page."""
    action = html.unescape(re.search(r'<form[^>]*action="([^"]*)"', page).group(1))
    fields = {html.unescape(name): html.unescape(value) for name, value in
              re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)"', page)}
    return action, fields

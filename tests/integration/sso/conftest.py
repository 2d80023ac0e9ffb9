"""panlearn and a real OpenID provider, both serving on 127.0.0.1, registered with each other.

The order is the operator's: panlearn's address is known first (its server
listens before the app exists), the provider registers panlearn's redirect
URI and hands out a client id and secret, the identity file names the
client id and the environment variable holding the secret, and then the app
starts reading that file.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from werkzeug.serving import make_server

from tests.conftest import app_on_fresh_database
from tests.integration.sso.provider import Provider, RegisteredClient

PROVIDER = "testid"
SECRET_ENV = "PANLEARN_TEST_OIDC_SECRET"


class Site:
    """A WSGI server on 127.0.0.1 that listens before its app exists."""

    def __init__(self) -> None:
        self.app: Any = None
        self._server = make_server("127.0.0.1", 0, self._serve, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _serve(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.app(environ, start_response)

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._thread.join(timeout=5)
        self._server.server_close()


@pytest.fixture
def provider() -> Iterator[Provider]:
    """The OpenID provider."""
    running = Provider().start()
    yield running
    running.stop()


@pytest.fixture
def site() -> Iterator[Site]:
    """Where panlearn is served."""
    serving = Site()
    yield serving
    serving.stop()


@pytest.fixture
def client_registration(provider: Provider, site: Site) -> RegisteredClient:
    """panlearn registered at the provider, with its redirect URI."""
    return provider.register(f"{site.url}/login/sso/{PROVIDER}/callback")


@pytest.fixture
def identity_config() -> dict[str, Any]:
    """Settings of the test provider's entry beyond the basics (tests override this)."""
    return {"roles": [{"claim": "groups", "value": "psi-training-authors",
                       "organisation": "psi", "role": "author"}]}


@pytest.fixture
def app_settings() -> dict[str, Any]:
    """Settings of the app beyond the identity file (tests override this)."""
    return {}


@pytest.fixture
def app(tmp_path: Path, provider: Provider, site: Site, client_registration: RegisteredClient,
        identity_config: dict[str, Any], app_settings: dict[str, Any],
        monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """panlearn with the provider in its identity file, served at `site`."""
    identity = tmp_path / "identity.yml"
    identity.write_text(yaml.safe_dump({"providers": [{
        "name": PROVIDER, "display_name": "Test ID", "issuer": provider.issuer,
        "client_id": client_registration.client_id, "client_secret_env": SECRET_ENV,
        "scopes": ["openid", "profile", "email"], **identity_config}]}))
    monkeypatch.setenv(SECRET_ENV, client_registration.client_secret)
    with app_on_fresh_database(tmp_path, IDENTITY_FILE=str(identity), PUBLIC_URL=site.url,
                               **app_settings) as made:
        site.app = made
        yield made


@pytest.fixture
def browser() -> Iterator[requests.Session]:
    """A person's browser: keeps cookies, follows no redirect by itself."""
    with requests.Session() as session:
        yield session


@pytest.fixture
def sign_in_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """The log lines of panlearn (whose logger does not propagate to the root)."""
    logger = logging.getLogger("panlearn")
    logger.addHandler(caplog.handler)
    caplog.handler.setLevel(logging.INFO)
    yield caplog
    logger.removeHandler(caplog.handler)

"""Platform registrations, stored in the database, and pylti1p3's view of them.

An LMS admin registers panlearn as a tool and gets an issuer, a client id,
deployment ids and three URLs; `flask --app app lti register` stores them
here (`register_platform`). `DatabaseToolConf` answers pylti1p3's lookups
from these rows, with the tool's own key from the instance dir.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from pylti1p3.deployment import Deployment
from pylti1p3.registration import Registration
from pylti1p3.tool_config import ToolConfAbstract
from sqlalchemy import select
from sqlalchemy.orm import Session

from panlearn.errors import InvalidInputError, NotFoundError
from panlearn.lti.keys import ToolKey
from panlearn.models import LtiDeployment, LtiPlatform

#: Seconds to wait for a platform (JWKS, token endpoint, AGS): never hang a request or a worker.
CONNECT_TIMEOUT, READ_TIMEOUT = 5.0, 15.0
USER_AGENT = "panlearn-lti/1.0"


@dataclass(frozen=True)
class PlatformInput:
    """What an LMS admin copies from the platform's tool registration page."""

    issuer: str
    client_id: str
    auth_login_url: str
    auth_token_url: str
    key_set_url: str
    deployment_ids: tuple[str, ...] = ()
    name: str = ""
    auth_audience: str | None = None


def register_platform(session: Session, data: PlatformInput) -> LtiPlatform:
    """Create or update the registration (issuer, client id); add its deployments."""
    errors: dict[str, list[str]] = {}
    for field in ("issuer", "auth_login_url", "auth_token_url", "key_set_url"):
        value = getattr(data, field)
        if urlsplit(value).scheme not in {"http", "https"} or not urlsplit(value).netloc:
            errors[field] = ["an http(s) URL"]
    if not data.client_id.strip():
        errors["client_id"] = ["required"]
    if errors:
        raise InvalidInputError("The platform registration is incomplete.", errors=errors)
    platform = find_platform(session, data.issuer, data.client_id)
    if platform is None:
        platform = LtiPlatform(issuer=data.issuer, client_id=data.client_id)
        session.add(platform)
    platform.name = data.name or platform.name or urlsplit(data.issuer).netloc
    platform.auth_login_url = data.auth_login_url
    platform.auth_token_url = data.auth_token_url
    platform.key_set_url = data.key_set_url
    platform.auth_audience = data.auth_audience
    known = {d.deployment_id for d in platform.deployments}
    for deployment_id in data.deployment_ids:
        if deployment_id and deployment_id not in known:
            platform.deployments.append(LtiDeployment(deployment_id=deployment_id))
            known.add(deployment_id)
    session.commit()
    return platform


def remove_platform(session: Session, issuer: str, client_id: str) -> None:
    """Forget a registration, with its deployments and remembered line items."""
    platform = find_platform(session, issuer, client_id)
    if platform is None:
        raise NotFoundError(f"No platform {issuer} with client id {client_id}.")
    session.delete(platform)
    session.commit()


def list_platforms(session: Session) -> list[LtiPlatform]:
    """Every registered platform."""
    return list(session.scalars(select(LtiPlatform).order_by(LtiPlatform.issuer,
                                                             LtiPlatform.client_id)))


def find_platform(session: Session, issuer: str, client_id: str | None) -> LtiPlatform | None:
    """The registration of (issuer, client id); without a client id, the issuer's only one."""
    query = select(LtiPlatform).where(LtiPlatform.issuer == issuer)
    if client_id:
        return session.scalar(query.where(LtiPlatform.client_id == client_id))
    found = list(session.scalars(query.limit(2)))
    return found[0] if len(found) == 1 else None


class ToolRegistration(Registration):
    """pylti1p3's registration, with the key id set (pylti1p3 would sign without one)."""

    def __init__(self, platform: LtiPlatform, key: ToolKey) -> None:
        self.platform_id = platform.id
        self.set_issuer(platform.issuer).set_client_id(platform.client_id)
        self.set_auth_login_url(platform.auth_login_url)
        self.set_auth_token_url(platform.auth_token_url)
        self.set_key_set_url(platform.key_set_url)
        if platform.auth_audience:
            self.set_auth_audience(platform.auth_audience)
        self.set_tool_private_key(key.private_pem).set_tool_public_key(key.public_pem)
        self._kid = key.kid

    def get_kid(self) -> str:
        """The kid of the tool's key, as published in its JWKS."""
        return self._kid


class DatabaseToolConf(ToolConfAbstract[Any]):
    """pylti1p3's tool configuration, read from the platform rows.

    Every issuer may have several client ids (pylti1p3's "many clients per
    issuer" mode), so lookups always go by (issuer, client id): an id_token's
    `aud` that names another client finds no registration and is refused.
    """

    def __init__(self, session: Session, key: ToolKey) -> None:
        self._session = session
        self._key = key

    def check_iss_has_one_client(self, iss: str) -> bool:
        """Never: lookups go by issuer and client id."""
        return False

    def check_iss_has_many_clients(self, iss: str) -> bool:
        """Always: lookups go by issuer and client id."""
        return True

    def find_registration_by_issuer(self, iss: str, *args: Any, **kwargs: Any
                                    ) -> ToolRegistration | None:
        """The issuer's registration when it has exactly one."""
        return self.find_registration_by_params(iss, None)

    def find_registration_by_params(self, iss: str, client_id: str | None, *args: Any,
                                    **kwargs: Any) -> ToolRegistration | None:
        """The registration of (issuer, client id), or None."""
        platform = find_platform(self._session, iss, client_id)
        return ToolRegistration(platform, self._key) if platform is not None else None

    def find_deployment(self, iss: str, deployment_id: str) -> Deployment | None:
        """A deployment of the issuer's only registration."""
        return self.find_deployment_by_params(iss, deployment_id, None)

    def find_deployment_by_params(self, iss: str, deployment_id: str, client_id: str | None,
                                  *args: Any, **kwargs: Any) -> Deployment | None:
        """The deployment, if it is registered for (issuer, client id)."""
        platform = find_platform(self._session, iss, client_id)
        if platform is None or deployment_id not in deployment_ids(platform.deployments):
            return None
        return Deployment().set_deployment_id(deployment_id)

    def platform(self, iss: str, client_id: str | None) -> LtiPlatform | None:
        """The platform row itself."""
        return find_platform(self._session, iss, client_id)


def deployment_ids(deployments: Iterable[LtiDeployment]) -> set[str]:
    """The ids of some deployments."""
    return {d.deployment_id for d in deployments}


class TimeoutSession(requests.Session):
    """A requests session whose calls time out (pylti1p3 passes no timeout of its own)."""

    def __init__(self) -> None:
        super().__init__()
        self.headers["User-Agent"] = USER_AGENT

    def request(self, method: str | bytes, url: str | bytes, *args: Any,
                **kwargs: Any) -> requests.Response:
        """Send with the default timeouts unless the caller gave one."""
        kwargs.setdefault("timeout", (CONNECT_TIMEOUT, READ_TIMEOUT))
        return super().request(method, url, *args, **kwargs)

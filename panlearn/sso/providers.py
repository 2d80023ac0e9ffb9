"""The identity file (`identity.yml`): which OpenID Connect providers people sign in with.

Providers are configuration, never code: an operator lists each one with its
issuer (discovery is read from `<issuer>/.well-known/openid-configuration`),
the client id panlearn was registered under, the *name of the environment
variable* holding the client secret (the file holds no secret and can be
committed), the scopes to ask for, the label of its button, and optionally
how its claims map to organisations and roles. The whole file is checked at
start-up and every mistake is named, so a typo never surfaces as a failed
sign-in.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    validate,
    validates_schema,
)

from panlearn.authoring.manifest import flatten_messages
from panlearn.config import ConfigurationError
from panlearn.models import Role

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


@dataclass(frozen=True)
class RoleRule:
    """Members whose `claim` holds `value` are `role` of `organisation` (a slug)."""

    claim: str
    value: str
    organisation: str
    role: Role


@dataclass(frozen=True)
class ProviderConfig:
    """One OpenID Connect provider, as the operator configured it."""

    name: str
    display_name: str
    button_label: str
    issuer: str
    client_id: str
    client_secret: str | None = field(repr=False)
    scopes: tuple[str, ...]
    link_by_verified_email: bool = False
    roles: tuple[RoleRule, ...] = ()

    @property
    def discovery_url(self) -> str:
        """Where the provider describes itself (OpenID Connect Discovery 1.0)."""
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"


def _is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def _check_issuer(url: str) -> bool:
    """https, or plain http to this machine only (development and tests)."""
    parts = urlsplit(url)
    if not parts.netloc or parts.query or parts.fragment:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and _is_loopback(parts.hostname))


def _validate_issuer(url: str) -> None:
    if not _check_issuer(url):
        raise ValidationError("an https URL without query (http only to localhost)")


class RoleRuleSchema(Schema):
    """A claim value that makes its holders authors or admins of an organisation."""

    class Meta:
        """Unknown keys are typos (or a secret put in the file): refuse them."""

        unknown = RAISE

    claim = fields.String(required=True, validate=validate.Length(min=1, max=200))
    value = fields.String(required=True, validate=validate.Length(min=1, max=500))
    organisation = fields.String(required=True, validate=validate.Regexp(
        r"^[a-z0-9][a-z0-9-]*$", error="an organisation slug"))
    role = fields.String(required=True, validate=validate.OneOf(
        [Role.AUTHOR.value, Role.ADMIN.value]))


class ProviderSchema(Schema):
    """One provider entry of the identity file."""

    class Meta:
        """Unknown keys are typos (or a secret put in the file): refuse them."""

        unknown = RAISE

    name = fields.String(required=True, validate=validate.Regexp(
        _NAME, error="lower-case letters, digits and -, at most 64 (it is part of URLs)"))
    display_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    button_label = fields.String(validate=validate.Length(min=1, max=100))
    issuer = fields.String(required=True, validate=_validate_issuer)
    client_id = fields.String(required=True, validate=validate.Length(min=1, max=200))
    client_secret_env = fields.String(validate=validate.Regexp(
        _ENV_NAME, error="the name of an environment variable"))
    scopes = fields.List(fields.String(validate=validate.Regexp(r"^[\x21\x23-\x5b\x5d-\x7e]+$")),
                         load_default=lambda: ["openid", "profile", "email"])
    link_by_verified_email = fields.Boolean(load_default=False)
    roles = fields.List(fields.Nested(RoleRuleSchema), load_default=list)

    @validates_schema
    def _asks_for_openid(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "scopes" in data and "openid" not in data["scopes"]:
            raise ValidationError("must include openid", "scopes")


def load_identity_file(path: Path, environ: Mapping[str, str]) -> list[ProviderConfig]:
    """Read and check the identity file; no file means no providers.

    Client secrets are read from the environment variables the file names;
    a named variable that is unset is an error, so a provider is never
    offered that cannot complete a sign-in.
    """
    if not path.exists():
        return []
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ConfigurationError(f"{path}: {error}") from None
    entries = raw.get("providers") if isinstance(raw, dict) else raw
    if entries is None:
        return []
    if not isinstance(raw, dict) or not isinstance(entries, list):
        raise ConfigurationError(f"{path}: expected a mapping with a list `providers`")
    problems: list[str] = []
    for index, entry in enumerate(entries):
        if isinstance(entry, dict) and "client_secret" in entry:
            problems.append(f"providers[{index}].client_secret: secrets never go in this "
                            "file; put it in an environment variable and name it in "
                            "client_secret_env")
    try:
        loaded: list[dict[str, Any]] = ProviderSchema(many=True).load(
            [{k: v for k, v in e.items() if k != "client_secret"} if isinstance(e, dict) else e
             for e in entries])
    except ValidationError as error:
        problems += [f"{key}: {message}"
                     for key, message in flatten_messages(error.messages, "providers")]
        loaded = []
    names = [entry["name"] for entry in loaded]
    problems += [f"name {name!r} is used twice" for name in sorted(set(names))
                 if names.count(name) > 1]
    for entry in loaded:
        variable = entry.get("client_secret_env")
        if variable and not environ.get(variable):
            problems.append(f"{entry['name']}.client_secret_env: the environment variable "
                            f"{variable} is not set")
    if problems:
        raise ConfigurationError(f"{path}: " + "; ".join(problems))
    return [_provider(entry, environ) for entry in loaded]


def _provider(entry: dict[str, Any], environ: Mapping[str, str]) -> ProviderConfig:
    variable = entry.get("client_secret_env")
    return ProviderConfig(
        name=entry["name"], display_name=entry["display_name"],
        button_label=entry.get("button_label") or f"Sign in with {entry['display_name']}",
        issuer=entry["issuer"], client_id=entry["client_id"],
        client_secret=environ[variable] if variable else None,
        scopes=tuple(entry["scopes"]),
        link_by_verified_email=entry["link_by_verified_email"],
        roles=tuple(RoleRule(claim=rule["claim"], value=rule["value"],
                             organisation=rule["organisation"], role=Role(rule["role"]))
                    for rule in entry["roles"]))

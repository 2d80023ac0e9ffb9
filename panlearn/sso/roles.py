"""Roles from the provider: claims such as `eduperson_entitlement` or `groups` → organisation role.

A facility decides who authors its courses in its own directory: a rule says
"holders of this claim value are authors (or admins) of this organisation".
The rules are applied at every sign-in, first match wins, so adding someone to
the group grants the role at their next sign-in and removing them takes it
away then. A provider only takes away what it granted (`User.role_source`):
a role an admin gave here is never removed by a provider's silence.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from panlearn.models import Organisation, Role, User
from panlearn.sso.providers import RoleRule

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Grant:
    """A role in an organisation, granted by a provider's claims."""

    organisation: str
    role: Role


def claim_values(claims: Mapping[str, Any], claim: str) -> list[str]:
    """A claim as a list of strings (providers send one string, or a list of them).

    A claim that is not at the top level is followed along its dots, so a rule can
    read Keycloak's roles: `realm_access.roles`, `resource_access.<client id>.roles`.
    A top-level claim of that very name (a URL, say) is read as it is.
    """
    value = claims.get(claim) if claim in claims else _nested(claims, claim.split("."))
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


def _nested(claims: Mapping[str, Any], path: list[str]) -> Any:
    value: Any = claims
    for part in path:
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def grant_from_claims(rules: Iterable[RoleRule], claims: Mapping[str, Any]) -> Grant | None:
    """The first rule whose claim holds its value, as a grant; None when no rule matches."""
    for rule in rules:
        if rule.value in claim_values(claims, rule.claim):
            return Grant(organisation=rule.organisation, role=rule.role)
    return None


def apply_grant(session: Session, user: User, provider: str, grant: Grant | None) -> None:
    """Give `user` the granted role, or take back what `provider` granted before.

    Does not commit: it is one step of a sign-in, which commits once.
    """
    if grant is not None:
        organisation = session.scalar(select(Organisation).where(
            Organisation.slug == grant.organisation))
        if organisation is None:
            log.error("identity provider %s: its role rule names organisation %r, which does "
                      "not exist; %s keeps the role %s", provider, grant.organisation,
                      user.username, user.role.value)
            return
        if (user.role, user.organisation_id) != (grant.role, organisation.id):
            log.info("identity provider %s makes %s %s of %s", provider, user.username,
                     grant.role.value, organisation.slug)
        user.role, user.organisation, user.role_source = grant.role, organisation, provider
    elif user.role_source == provider:
        log.info("identity provider %s no longer grants %s a role: now a student",
                 provider, user.username)
        user.role, user.organisation, user.role_source = Role.STUDENT, None, None

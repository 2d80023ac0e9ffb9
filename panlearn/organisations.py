"""Organisations (facilities) from `content/organisations.yml` into the database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import select
from sqlalchemy.orm import Session

from panlearn.authoring.manifest import SLUG_RE, flatten_messages
from panlearn.errors import InvalidInputError
from panlearn.models import Organisation


class OrganisationEntrySchema(Schema):
    """One facility profile."""

    slug = fields.String(required=True, validate=validate.Regexp(SLUG_RE))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    ror_id = fields.String(validate=validate.Regexp(r"^https://ror\.org/0[a-z0-9]{8}$"))
    website = fields.URL()
    panosc_url = fields.URL()
    description = fields.String()


def load_organisations_file(path: Path) -> list[dict[str, Any]]:
    """Parse and validate the organisations file; every error is named."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise InvalidInputError(f"{path}: {error}") from None
    entries = (raw or {}).get("organisations") if isinstance(raw, dict) else None
    if not isinstance(entries, list):
        raise InvalidInputError(f"{path}: expected a mapping with a list `organisations`")
    try:
        loaded: list[dict[str, Any]] = OrganisationEntrySchema(many=True).load(entries)
    except ValidationError as error:
        pairs = flatten_messages(error.messages)
        raise InvalidInputError(f"{path}: " + "; ".join(f"{k}: {m}" for k, m in pairs),
                                errors={k: [m] for k, m in pairs}) from None
    return loaded


def sync_organisations(session: Session, entries: list[dict[str, Any]]) -> int:
    """Create or update organisations by slug; returns how many changed."""
    changed = 0
    for entry in entries:
        organisation = session.scalar(select(Organisation).where(
            Organisation.slug == entry["slug"]))
        if organisation is None:
            organisation = Organisation(slug=entry["slug"])
            session.add(organisation)
        for name in ("name", "ror_id", "website", "panosc_url"):
            value = entry.get(name)
            if getattr(organisation, name) != value:
                setattr(organisation, name, value)
                changed += 1
    session.commit()
    return changed

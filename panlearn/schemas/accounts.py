"""Bearer tokens and organisations."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


class TokenRequestSchema(Schema):
    """Credentials exchanged for a bearer token."""

    username = fields.String(required=True, validate=validate.Length(min=1, max=80))
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=1024))


class TokenSchema(Schema):
    """A freshly issued bearer token; shown once."""

    token = fields.String(required=True)
    token_type = fields.String(dump_default="Bearer")
    expires_at = fields.DateTime(required=True)


class OrganisationSchema(Schema):
    """A publishing organisation (facility)."""

    slug = fields.String(dump_only=True)
    name = fields.String(dump_only=True)
    ror_id = fields.String(dump_only=True, allow_none=True)
    website = fields.String(dump_only=True, allow_none=True)
    panosc_url = fields.String(dump_only=True, allow_none=True)

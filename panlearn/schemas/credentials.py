"""Open Badges credentials: lists, revocation, the signed document, verification."""

from __future__ import annotations

from marshmallow import INCLUDE, Schema, fields, validate


class CredentialSummarySchema(Schema):
    """A completion credential as listed (the signed document is at `url`)."""

    id = fields.String()
    course = fields.String(allow_none=True)
    version_number = fields.Integer(allow_none=True)
    title = fields.String()
    organisation = fields.String()
    issued_at = fields.DateTime()
    revoked_at = fields.DateTime(allow_none=True)
    revocation_reason = fields.String(allow_none=True)
    url = fields.String()
    verify_url = fields.String()
    page_url = fields.String(metadata={"description": "The certificate's page, for people."})


class CredentialListSchema(Schema):
    """The caller's credentials."""

    items = fields.List(fields.Nested(CredentialSummarySchema))


class RevokeSchema(Schema):
    """Why a credential is revoked (kept with it, shown by verify)."""

    reason = fields.String(load_default=None, allow_none=True,
                           validate=validate.Length(max=1000))


class CredentialDocumentSchema(Schema):
    """A signed credential as JSON-LD; every member is kept as sent."""

    class Meta:
        """Unknown members are the credential's own (`@context`, `issuer`, …)."""

        unknown = INCLUDE

    proof = fields.Dict(required=True)


class VerificationSchema(Schema):
    """Whether a credential verifies, and whether its issuer revoked it."""

    verified = fields.Boolean(metadata={"description": "The signature checks out with the "
                                                       "issuer's published key and the "
                                                       "credential is within its dates."})
    revoked = fields.Boolean()
    issuer = fields.Dict(allow_none=True)
    errors = fields.List(fields.String())
    credential_id = fields.String(allow_none=True)
    issued_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)
    revocation_reason = fields.String(allow_none=True)

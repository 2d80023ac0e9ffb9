"""The bodies every resource shares: the problem+json error body, pages of results."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


class ProblemSchema(Schema):
    """RFC 9457 problem details: the body of every error response."""

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    errors = fields.Dict(metadata={"description": "Field errors or course problems."})


class PageArgsSchema(Schema):
    """Pagination query arguments."""

    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class PageSchema(Schema):
    """The envelope of a paginated list."""

    total = fields.Integer(required=True)
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    pages = fields.Integer(required=True)

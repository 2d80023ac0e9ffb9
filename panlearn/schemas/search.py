"""Full-text search: the query string, hits and facet counts."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from panlearn.schemas.common import PageArgsSchema


class SearchArgsSchema(PageArgsSchema):
    """Query arguments of the catalogue search."""

    q = fields.String(load_default="", validate=validate.Length(max=500), metadata={
        "description": "Words, \"phrases\", prefixes (diffract*), fields (technique:SANS)."})
    technique = fields.String()
    facility = fields.String()
    level = fields.String()
    kind = fields.String(validate=validate.OneOf(("course", "lesson", "exercise")))
    per_page = fields.Integer(load_default=10, validate=validate.Range(min=1, max=50))


class SearchHitSchema(Schema):
    """One search hit; `snippet` is escaped HTML with the matched terms in <mark>."""

    kind = fields.String()
    title = fields.String()
    url = fields.String()
    course_slug = fields.String()
    course_title = fields.String()
    lesson_id = fields.Integer(allow_none=True)
    status = fields.String()
    techniques = fields.List(fields.String())
    facility = fields.String()
    level = fields.String()
    score = fields.Float(allow_none=True)
    snippet = fields.String()


class FacetCountSchema(Schema):
    """How many hits have one facet value."""

    value = fields.String()
    count = fields.Integer()


class SearchResultSchema(Schema):
    """A page of search hits with facet counts and a spelling suggestion."""

    query = fields.String()
    hits = fields.List(fields.Nested(SearchHitSchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
    pages = fields.Integer()
    facets = fields.Dict(keys=fields.String(), values=fields.List(fields.Nested(FacetCountSchema)))
    suggestion = fields.String(allow_none=True)

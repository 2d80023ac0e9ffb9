"""Query-string schemas of the pages, embeds and oEmbed, and the one way to parse them.

Unknown parameters are ignored (a shared link may carry tracking parameters);
malformed known ones are a 400 problem naming the field, like everywhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_load, validate

from panlearn.errors import InvalidInputError
from panlearn.models import LEVELS


class _QuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    @pre_load
    def _drop_empty(self, data: Mapping[str, Any], **_: Any) -> dict[str, Any]:
        # An unselected <select> of the GET form sends `level=`: no filter, not an error.
        return {key: value for key, value in data.items() if value != ""}


class CatalogueArgsSchema(_QuerySchema):
    """Filters of the catalogue page (the GET form)."""

    technique = fields.String(validate=validate.Length(max=100))
    level = fields.String(validate=validate.OneOf(LEVELS))
    organisation = fields.String(validate=validate.Length(max=64))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10_000))


class CoursePageArgsSchema(_QuerySchema):
    """An older version of a course page, or the newest the viewer may see."""

    version = fields.Integer(validate=validate.Range(min=1))


class FailureArgsSchema(_QuerySchema):
    """Which failure of which check the analytics page links to examples of."""

    check = fields.String(required=True, validate=validate.Length(min=1, max=100))
    message = fields.String(required=True, validate=validate.Length(min=1, max=300))


class EmbedArgsSchema(_QuerySchema):
    """A whole lesson, one cell, or one cell's outputs."""

    cell = fields.String(validate=validate.Length(min=1, max=64))
    part = fields.String(load_default="cell", validate=validate.OneOf(("cell", "output")))
    #: `live=1` with a code `cell`: the cell can be edited and run (docs/LIVE.md).
    live = fields.Boolean(load_default=False)


class OEmbedArgsSchema(_QuerySchema):
    """The oEmbed request (oembed.com, section 2.2)."""

    url = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    maxwidth = fields.Integer(validate=validate.Range(min=1))
    maxheight = fields.Integer(validate=validate.Range(min=1))
    format = fields.String(load_default="json")


def parse(schema: Schema, args: Mapping[str, Any]) -> dict[str, Any]:
    """Load query arguments, or raise InvalidInputError with the field errors."""
    try:
        return schema.load(dict(args))
    except ValidationError as error:
        messages = error.normalized_messages()
        fields_named = ", ".join(sorted(messages))
        raise InvalidInputError(f"Invalid query parameter(s): {fields_named}.",
                                errors={"query": messages}) from None

"""PaNOSC dataset search and the files of a dataset."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


class DatasetSearchArgsSchema(Schema):
    """Query arguments of the federated dataset search."""

    q = fields.String(metadata={"description": "Free text, ranked by relevance score."})
    technique = fields.String(metadata={"description": "PaNET id or technique name."})
    facility = fields.String()
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    skip = fields.Integer(load_default=0, validate=validate.Range(min=0))


class TechniqueSchema(Schema):
    """A technique of a dataset (PaNET)."""

    pid = fields.String(allow_none=True)
    name = fields.String(allow_none=True)
    panet_id = fields.String(allow_none=True)


class InstrumentSchema(Schema):
    """The instrument a dataset was measured on."""

    pid = fields.String()
    name = fields.String(allow_none=True)
    facility = fields.String(allow_none=True)


class ParameterSchema(Schema):
    """A measured or set parameter with its unit."""

    name = fields.String()
    value = fields.Raw(allow_none=True)
    unit = fields.String(allow_none=True)


class DataFileSchema(Schema):
    """A file of a dataset."""

    name = fields.String()
    size = fields.Integer(allow_none=True)
    path = fields.String(allow_none=True)


class DatasetSchema(Schema):
    """A dataset as the PaNOSC search API describes it."""

    pid = fields.String()
    title = fields.String(allow_none=True)
    is_public = fields.Boolean()
    creation_date = fields.DateTime(allow_none=True)
    size = fields.Integer(allow_none=True)
    score = fields.Float(allow_none=True)
    provider = fields.String(allow_none=True)
    instrument = fields.Nested(InstrumentSchema, allow_none=True)
    techniques = fields.List(fields.Nested(TechniqueSchema))
    parameters = fields.List(fields.Nested(ParameterSchema))
    files = fields.List(fields.Nested(DataFileSchema))


class DatasetResultSchema(Schema):
    """One dataset answer, saying whether it came from a stale cache."""

    dataset = fields.Nested(DatasetSchema)
    stale = fields.Boolean()
    fetched_at = fields.DateTime()


class DatasetSearchResultSchema(Schema):
    """A page of federated search results."""

    items = fields.List(fields.Nested(DatasetSchema))
    stale = fields.Boolean(metadata={"description": "True when the upstream failed and this "
                                                    "is the last good cached answer."})
    fetched_at = fields.DateTime()
    query = fields.String(allow_none=True)
    limit = fields.Integer()
    skip = fields.Integer()


class DatasetFileInfoSchema(Schema):
    """A file of a dataset, with its checksum and origin where the registry knows them."""

    name = fields.String()
    size = fields.Integer(allow_none=True)
    sha256 = fields.String(allow_none=True)
    url = fields.String(allow_none=True)
    storage_path = fields.String(allow_none=True)


class DatasetFileListSchema(Schema):
    """The files of a dataset."""

    dataset = fields.String()
    source = fields.String(metadata={"description": "`registry` or `panosc`"})
    files = fields.List(fields.Nested(DatasetFileInfoSchema))
    stale = fields.Boolean()

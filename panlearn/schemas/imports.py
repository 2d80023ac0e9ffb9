"""Importing and validating course folders: the upload form and the report."""

from __future__ import annotations

from marshmallow import Schema, fields


class ImportFormSchema(Schema):
    """Form fields of a course archive upload."""

    publish = fields.Boolean(load_default=False)


class ImportFilesSchema(Schema):
    """The uploaded archive."""

    archive = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


class ImportResultSchema(Schema):
    """What an import did to one course."""

    slug = fields.String()
    version = fields.Integer()
    outcome = fields.String()
    status = fields.String()


class ImportResponseSchema(Schema):
    """The result of an archive import."""

    courses = fields.List(fields.Nested(ImportResultSchema))


class CourseProblemSchema(Schema):
    """One thing wrong in a course: where (file, line or cell), which field, what."""

    file = fields.String()
    message = fields.String()
    field = fields.String()
    line = fields.Integer()
    cell = fields.Integer(metadata={"description": "the cell's position, counted from 1"})


class ExerciseGradingSchema(Schema):
    """How one exercise fared: its reference solution and its blank student version."""

    course = fields.String()
    file = fields.String()
    title = fields.String()
    state = fields.String(metadata={"description": "passed, failed, reused or skipped"})
    message = fields.String()
    seconds = fields.Float(allow_none=True)


class ValidationReportSchema(Schema):
    """What `POST /api/courses/validate` found: every problem an import would refuse."""

    valid = fields.Boolean()
    courses = fields.List(fields.String())
    problems = fields.List(fields.Nested(CourseProblemSchema))
    exercises = fields.List(fields.Nested(ExerciseGradingSchema))

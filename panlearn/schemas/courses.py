"""Courses, their versions, modules and lessons: what the catalogue shows and authors change."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from panlearn.models import LEVELS
from panlearn.schemas.common import PageArgsSchema, PageSchema


class AuthorSchema(Schema):
    """A course author."""

    name = fields.String()
    orcid = fields.String()
    affiliation = fields.String()


class LessonSummarySchema(Schema):
    """A lesson as listed inside its course."""

    id = fields.Integer(dump_only=True)
    slug = fields.String(dump_only=True)
    title = fields.String(dump_only=True)
    kind = fields.String(dump_only=True)
    position = fields.Integer(dump_only=True)
    exercise_id = fields.Integer(dump_only=True, allow_none=True)
    url = fields.String(dump_only=True)


class ModuleSchema(Schema):
    """A module with its ordered lessons."""

    position = fields.Integer(dump_only=True)
    title = fields.String(dump_only=True)
    summary = fields.String(dump_only=True)
    lessons = fields.List(fields.Nested(LessonSummarySchema), dump_only=True)


class CourseSchema(Schema):
    """A course as seen by the caller: the newest version they may view."""

    slug = fields.String(dump_only=True)
    title = fields.String(dump_only=True)
    summary = fields.String(dump_only=True)
    level = fields.String(dump_only=True)
    language = fields.String(dump_only=True)
    techniques = fields.List(fields.String(), dump_only=True)
    organisation = fields.String(dump_only=True)
    licence = fields.String(dump_only=True)
    authors = fields.List(fields.Nested(AuthorSchema), dump_only=True)
    version = fields.String(dump_only=True, metadata={"description": "The authors' label."})
    version_number = fields.Integer(dump_only=True)
    status = fields.String(dump_only=True)
    source_hash = fields.String(dump_only=True)
    published_at = fields.DateTime(dump_only=True, allow_none=True)
    url = fields.String(dump_only=True)


class CourseDetailSchema(CourseSchema):
    """A course with its modules and lessons."""

    prerequisites = fields.List(fields.String(), dump_only=True)
    objectives = fields.List(fields.String(), dump_only=True)
    versions = fields.List(fields.Dict(), dump_only=True)
    modules = fields.List(fields.Nested(ModuleSchema), dump_only=True)


class CoursePageSchema(PageSchema):
    """A page of courses."""

    items = fields.List(fields.Nested(CourseSchema), required=True)


class CourseQueryArgsSchema(PageArgsSchema):
    """Filters of the course list."""

    technique = fields.String()
    level = fields.String(validate=validate.OneOf(LEVELS))
    organisation = fields.String()
    status = fields.String(validate=validate.OneOf(("draft", "published")))


class CourseVersionArgsSchema(Schema):
    """Pick a version of a course (default: the newest the caller may view)."""

    version = fields.Integer(validate=validate.Range(min=1))


class CoursePatchSchema(Schema):
    """Editable metadata of a draft version."""

    title = fields.String(validate=validate.Length(min=1, max=200))
    summary = fields.String(validate=validate.Length(min=1))
    level = fields.String(validate=validate.OneOf(LEVELS))
    techniques = fields.List(fields.String(validate=validate.Length(min=1)))
    prerequisites = fields.List(fields.String())
    objectives = fields.List(fields.String())


class LessonSchema(Schema):
    """A lesson's metadata."""

    id = fields.Integer(dump_only=True)
    slug = fields.String(dump_only=True)
    title = fields.String(dump_only=True)
    kind = fields.String(dump_only=True)
    position = fields.Integer(dump_only=True)
    course = fields.String(dump_only=True)
    course_version = fields.Integer(dump_only=True)
    module = fields.String(dump_only=True)
    notebook_hash = fields.String(dump_only=True)
    exercise_id = fields.Integer(dump_only=True, allow_none=True)
    points = fields.Float(dump_only=True, allow_none=True)
    previous_id = fields.Integer(dump_only=True, allow_none=True)
    next_id = fields.Integer(dump_only=True, allow_none=True)
    url = fields.String(dump_only=True)
    notebook_url = fields.String(dump_only=True)


class NotebookArgsSchema(Schema):
    """Which notebook of a lesson: the student version, or the source for its authors."""

    version = fields.String(load_default="student", validate=validate.OneOf(("student", "source")))

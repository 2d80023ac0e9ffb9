"""Submissions and the result of each check."""

from __future__ import annotations

from marshmallow import Schema, fields


class CheckResultSchema(Schema):
    """One check's result, shaped like a Gradescope `results.json` test."""

    grade_id = fields.String()
    name = fields.String()
    passed = fields.Boolean()
    status = fields.String()
    score = fields.Float(metadata={"description": "Points earned."})
    max_score = fields.Float()
    points = fields.Float(metadata={"description": "Same as score."})
    max_points = fields.Float(metadata={"description": "Same as max_score."})
    message = fields.String(metadata={"description": "What to fix; empty when passed."})
    output = fields.String()
    visibility = fields.String()
    ran = fields.Boolean(metadata={"description": "False when the check never ran "
                                                  "(e.g. the notebook stopped before it)."})
    tamper_proof = fields.Boolean()


class SubmissionSchema(Schema):
    """A submission and the results of its latest grading run."""

    id = fields.Integer()
    exercise_id = fields.Integer()
    user = fields.String()
    state = fields.String(metadata={"description": "queued, running, graded (your outcome) "
                                                   "or failed (the platform's fault)"})
    score = fields.Float(allow_none=True)
    max_score = fields.Float(allow_none=True)
    checks = fields.List(fields.Nested(CheckResultSchema))
    notes = fields.List(fields.String())
    error = fields.String(allow_none=True)
    attempts = fields.Integer()
    runs = fields.Integer()
    timings = fields.Dict()
    created_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)
    feedback_url = fields.String(allow_none=True)
    url = fields.String()


class SubmissionCreatedSchema(Schema):
    """The answer to a new submission: it is queued."""

    id = fields.Integer()
    state = fields.String()
    url = fields.String()


class SubmissionListSchema(Schema):
    """An exercise's submissions; authors also get per-check pass rates."""

    items = fields.List(fields.Nested(SubmissionSchema))
    pass_rates = fields.Dict(keys=fields.String(), values=fields.Float(), allow_none=True)

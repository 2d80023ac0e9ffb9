"""Quiz answers, attempts and questions as a learner sees them."""

from __future__ import annotations

from marshmallow import Schema, fields


class QuizAnswerSchema(Schema):
    """An answer to a quiz question."""

    answer = fields.Raw(required=True, metadata={"description": (
        "choice: the 0-based option index; multi: a list of indices; numeric: a number; "
        "text: a string.")})


class QuizAttemptSchema(Schema):
    """The graded answer, at once."""

    question_id = fields.String()
    attempt = fields.Integer(metadata={"description": "Your attempt's number, from 1."})
    correct = fields.Boolean()
    points = fields.Float(metadata={"description": "Points scored, after any penalty."})
    max_points = fields.Float()
    feedback = fields.String(allow_none=True, metadata={"description": "Markdown."})
    explanation = fields.String(allow_none=True, metadata={
        "description": "Markdown; given once the question is finished (full marks, or no "
                       "attempt left)."})
    attempts_left = fields.Integer(allow_none=True, metadata={"description": "None: "
                                                                             "unlimited."})
    lesson_completed = fields.Boolean()


class QuizOptionSchema(Schema):
    """An option as a learner sees it."""

    text = fields.String()


class QuizQuestionSchema(Schema):
    """A question as a learner sees it (no answer key), with the caller's attempts."""

    id = fields.String()
    type = fields.String()
    question = fields.String(metadata={"description": "Markdown with maths."})
    points = fields.Float()
    options = fields.List(fields.Nested(QuizOptionSchema))
    units = fields.String()
    partial = fields.Boolean()
    attempts = fields.Integer(metadata={"description": "Attempts allowed, when limited."})
    penalty = fields.Float()
    attempts_used = fields.Integer()
    attempts_left = fields.Integer(allow_none=True)
    best_points = fields.Float(allow_none=True)
    finished = fields.Boolean()
    explanation = fields.String(allow_none=True)


class LessonQuizSchema(Schema):
    """A lesson's questions."""

    lesson_id = fields.Integer()
    pass_mark = fields.Float()
    items = fields.List(fields.Nested(QuizQuestionSchema))

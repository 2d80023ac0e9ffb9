"""Enrolment, lesson and course completion, a learner's progress."""

from __future__ import annotations

from marshmallow import Schema, fields


class EnrolSchema(Schema):
    """Enrol in a course; `move` moves an enrolled learner to the newest published version."""

    move = fields.Boolean(load_default=False)


class LessonProgressSchema(Schema):
    """One lesson of the enrolled version and whether it is done."""

    id = fields.Integer()
    slug = fields.String()
    title = fields.String()
    kind = fields.String()
    completed_at = fields.DateTime(allow_none=True)
    how = fields.String(allow_none=True, metadata={"description": "read, passed, or carried "
                                                                  "over from a version "
                                                                  "moved from"})


class ExerciseProgressSchema(Schema):
    """An exercise of the enrolled version with the learner's best graded score."""

    exercise_id = fields.Integer()
    lesson_id = fields.Integer()
    title = fields.String()
    max_score = fields.Float()
    best_score = fields.Float(allow_none=True)
    best_fraction = fields.Float(allow_none=True)
    graded_submissions = fields.Integer()
    passed = fields.Boolean()


class QuizProgressSchema(Schema):
    """A lesson with quiz questions and the learner's best points on them."""

    lesson_id = fields.Integer()
    title = fields.String()
    questions = fields.Integer()
    answered = fields.Integer(metadata={"description": "Questions answered at least once."})
    points = fields.Float(metadata={"description": "The questions' points in all."})
    best_points = fields.Float()
    passed = fields.Boolean(metadata={"description": "Best points reach the pass mark."})


class CredentialLinkSchema(Schema):
    """Where a completion credential is downloaded and verified."""

    id = fields.String()
    url = fields.String()
    verify_url = fields.String()
    page_url = fields.String(metadata={"description": "The certificate's page, for people."})
    issued_at = fields.DateTime()
    revoked = fields.Boolean()


class CourseProgressSchema(Schema):
    """A learner's progress in one course, on the version they are enrolled in."""

    course = fields.String()
    title = fields.String()
    organisation = fields.String()
    version = fields.String(metadata={"description": "The authors' label of the version."})
    version_number = fields.Integer()
    version_status = fields.String()
    newest_version_number = fields.Integer(allow_none=True)
    can_move = fields.Boolean(metadata={"description": "A newer published version exists; "
                                                       "enrol with move=true to switch."})
    pass_mark = fields.Float()
    enrolled_at = fields.DateTime()
    moved_at = fields.DateTime(allow_none=True)
    lessons_done = fields.Integer()
    lessons_total = fields.Integer()
    lessons = fields.List(fields.Nested(LessonProgressSchema))
    exercises = fields.List(fields.Nested(ExerciseProgressSchema))
    quizzes = fields.List(fields.Nested(QuizProgressSchema))
    completed_at = fields.DateTime(allow_none=True)
    credential = fields.Nested(CredentialLinkSchema, allow_none=True)


class ProgressListSchema(Schema):
    """The caller's progress in every course they are enrolled in."""

    items = fields.List(fields.Nested(CourseProgressSchema))


class LessonCompletionSchema(Schema):
    """A completed lesson, with the progress of the course it counts for (if enrolled)."""

    lesson_id = fields.Integer()
    how = fields.String()
    completed_at = fields.DateTime()
    course = fields.Nested(CourseProgressSchema, allow_none=True,
                           metadata={"description": "Null unless you are enrolled in the "
                                                    "lesson's course version."})

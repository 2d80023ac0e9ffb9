"""Course analytics for the organisation's staff: completion, pass rates, failures, answers."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


class AnalyticsArgsSchema(Schema):
    """Pick the version whose lessons and exercises are reported (default: newest published)."""

    version = fields.Integer(validate=validate.Range(min=1))


class CheckStatsSchema(Schema):
    """One check's pass rate over each submission's latest graded run."""

    grade_id = fields.String()
    name = fields.String()
    runs = fields.Integer()
    passed = fields.Integer()
    pass_rate = fields.Float(allow_none=True)


class FailureMessageSchema(Schema):
    """A failure message (first line) of a check and how often it was given."""

    grade_id = fields.String()
    message = fields.String()
    count = fields.Integer()


class CourseFailureMessageSchema(FailureMessageSchema):
    """A failure message of a check of one of the course's exercises."""

    exercise_id = fields.Integer()


class ExerciseStatsSchema(Schema):
    """An exercise's figures: learners, submissions, passes, checks, commonest failures."""

    exercise_id = fields.Integer()
    lesson_id = fields.Integer()
    slug = fields.String()
    title = fields.String()
    points = fields.Float()
    learners = fields.Integer()
    submissions = fields.Integer()
    graded = fields.Integer()
    passed = fields.Integer(metadata={"description": "Learners whose best score reaches the "
                                                     "pass mark."})
    pass_rate = fields.Float(allow_none=True)
    mean_best_fraction = fields.Float(allow_none=True)
    score_distribution = fields.List(fields.Integer(), metadata={
        "description": "Learners by best score: 0–10 %, 10–20 %, …, 90–100 %, full marks."})
    preview_submissions = fields.Integer(metadata={
        "description": "Authors' try-outs, left out of every other figure."})
    checks = fields.List(fields.Nested(CheckStatsSchema))
    common_failures = fields.List(fields.Nested(FailureMessageSchema))


class LessonStatsSchema(Schema):
    """How many learners completed a lesson."""

    lesson_id = fields.Integer()
    slug = fields.String()
    title = fields.String()
    kind = fields.String()
    completed = fields.Integer()
    completed_by_enrolled = fields.Integer()
    completion_rate = fields.Float(allow_none=True)


class TimelineDaySchema(Schema):
    """Learners enrolled and completions by the end of one day (UTC), cumulative."""

    date = fields.String()
    learners = fields.Integer()
    completed = fields.Integer()


class VersionStatsSchema(Schema):
    """Learners enrolled in one version, and how many completed it."""

    version_number = fields.Integer()
    status = fields.String()
    learners = fields.Integer()
    completed = fields.Integer()


class AnswerCountSchema(Schema):
    """How many learners gave one answer on their first attempt."""

    answer = fields.Raw(metadata={"description": "An option index, a list of indices, a "
                                                 "number or a text, as answered."})
    label = fields.String(metadata={"description": "The option's text, or the answer as text."})
    correct = fields.Boolean()
    count = fields.Integer()


class QuestionStatsSchema(Schema):
    """Figures of one quiz question: attempts, success, and the answers learners gave."""

    lesson_id = fields.Integer()
    question_id = fields.String()
    type = fields.String()
    points = fields.Float()
    learners = fields.Integer()
    attempts = fields.Integer()
    correct_first = fields.Integer(metadata={"description": "Learners right at the first "
                                                            "attempt."})
    correct_eventually = fields.Integer()
    first_attempt_rate = fields.Float(allow_none=True)
    mean_attempts = fields.Float(allow_none=True)
    options = fields.List(fields.Nested(AnswerCountSchema), metadata={
        "description": "choice and multi: for each option, how many learners picked it on "
                       "their first attempt."})
    answers = fields.List(fields.Nested(AnswerCountSchema), metadata={
        "description": "Every question: the commonest first answers (whole answers)."})


class CourseAnalyticsSchema(Schema):
    """A course's figures for its organisation's authors and admins."""

    course = fields.String()
    timeline = fields.List(fields.Nested(TimelineDaySchema))
    version_number = fields.Integer(allow_none=True)
    learners = fields.Integer()
    completed = fields.Integer()
    completion_rate = fields.Float(allow_none=True)
    credentials_issued = fields.Integer()
    credentials_revoked = fields.Integer()
    versions = fields.List(fields.Nested(VersionStatsSchema))
    lessons = fields.List(fields.Nested(LessonStatsSchema))
    exercises = fields.List(fields.Nested(ExerciseStatsSchema))
    questions = fields.List(fields.Nested(QuestionStatsSchema))
    common_failures = fields.List(fields.Nested(CourseFailureMessageSchema))

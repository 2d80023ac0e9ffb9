"""marshmallow schemas: every request and response body of the API goes through one."""

from __future__ import annotations

from marshmallow import INCLUDE, Schema, fields, validate

from panlearn.models import LEVELS


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


class TokenRequestSchema(Schema):
    """Credentials exchanged for a bearer token."""

    username = fields.String(required=True, validate=validate.Length(min=1, max=80))
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=1024))


class TokenSchema(Schema):
    """A freshly issued bearer token; shown once."""

    token = fields.String(required=True)
    token_type = fields.String(dump_default="Bearer")
    expires_at = fields.DateTime(required=True)


class OrganisationSchema(Schema):
    """A publishing organisation (facility)."""

    slug = fields.String(dump_only=True)
    name = fields.String(dump_only=True)
    ror_id = fields.String(dump_only=True, allow_none=True)
    website = fields.String(dump_only=True, allow_none=True)
    panosc_url = fields.String(dump_only=True, allow_none=True)


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


# --- Live runs and drafts ------------------------------------------------------------------


class RunRequestSchema(Schema):
    """Run a code cell and the cells above it, as your notebook has them."""

    notebook = fields.Dict(required=True, metadata={
        "description": "Your notebook (nbformat 4 JSON). Only the sources of the cells you "
                       "may edit are taken, matched by cell id; every other cell is the "
                       "lesson's own."})
    cell = fields.String(required=True, validate=validate.Length(min=1, max=64),
                         metadata={"description": "The id of the code cell to run."})
    outputs = fields.String(load_default="cell", validate=validate.OneOf(["cell", "all"]),
                            metadata={"description": "`all` also returns the outputs of "
                                                     "every cell above (Run all)."})


class CellRunSchema(Schema):
    """One cell of a run."""

    cell = fields.String()
    status = fields.String(metadata={"description": "ok, error, timeout, or not-run (the run "
                                                    "stopped above it)"})
    execution_count = fields.Integer(allow_none=True)
    outputs = fields.List(fields.Dict(), metadata={"description": "nbformat outputs (only "
                                                                  "for the asked cell unless "
                                                                  "`outputs` is `all`)"})
    html = fields.String(metadata={"description": "The outputs as the lesson page shows "
                                                  "them, sanitised like a lesson."})


class RunResultSchema(Schema):
    """What a run gave: the asked cell's status and outputs, and every cell it ran."""

    cell = fields.String()
    status = fields.String(metadata={"description": "ok, error or timeout"})
    outputs = fields.List(fields.Dict(), metadata={"description": "nbformat outputs; error "
                                                                  "tracebacks show your own "
                                                                  "frames"})
    html = fields.String()
    ms = fields.Integer(metadata={"description": "Milliseconds from the request to the "
                                                 "outputs, queue included."})
    message = fields.String(allow_none=True, metadata={
        "description": "Why the run stopped early (\"Stopped after 10 s: …\"), if it did."})
    execution_count = fields.Integer(allow_none=True)
    cells = fields.List(fields.Nested(CellRunSchema))
    timings = fields.Dict(metadata={"description": "Seconds per phase on the worker."})


class DraftSchema(Schema):
    """Your autosaved notebook of an exercise: `notebook` is null until you save one."""

    notebook = fields.Dict(allow_none=True)
    saved_at = fields.DateTime(allow_none=True)
    size = fields.Integer(allow_none=True)


class DraftSaveSchema(Schema):
    """Save your notebook of an exercise as your draft (the last save is kept)."""

    notebook = fields.Dict(required=True, metadata={"description": "nbformat 4 JSON"})


class DraftSavedSchema(Schema):
    """A stored draft: when, and how many bytes."""

    saved_at = fields.DateTime()
    size = fields.Integer()


# --- Progress: enrolment, completion, analytics -------------------------------------------


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


# --- Credentials -----------------------------------------------------------------------------


class CredentialSummarySchema(Schema):
    """A completion credential as listed (the signed document is at `url`)."""

    id = fields.String()
    course = fields.String(allow_none=True)
    version_number = fields.Integer(allow_none=True)
    title = fields.String()
    organisation = fields.String()
    issued_at = fields.DateTime()
    revoked_at = fields.DateTime(allow_none=True)
    revocation_reason = fields.String(allow_none=True)
    url = fields.String()
    verify_url = fields.String()
    page_url = fields.String(metadata={"description": "The certificate's page, for people."})


class CredentialListSchema(Schema):
    """The caller's credentials."""

    items = fields.List(fields.Nested(CredentialSummarySchema))


class RevokeSchema(Schema):
    """Why a credential is revoked (kept with it, shown by verify)."""

    reason = fields.String(load_default=None, allow_none=True,
                           validate=validate.Length(max=1000))


class CredentialDocumentSchema(Schema):
    """A signed credential as JSON-LD; every member is kept as sent."""

    class Meta:
        """Unknown members are the credential's own (`@context`, `issuer`, …)."""

        unknown = INCLUDE

    proof = fields.Dict(required=True)


class VerificationSchema(Schema):
    """Whether a credential verifies, and whether its issuer revoked it."""

    verified = fields.Boolean(metadata={"description": "The signature checks out with the "
                                                       "issuer's published key and the "
                                                       "credential is within its dates."})
    revoked = fields.Boolean()
    issuer = fields.Dict(allow_none=True)
    errors = fields.List(fields.String())
    credential_id = fields.String(allow_none=True)
    issued_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)
    revocation_reason = fields.String(allow_none=True)


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

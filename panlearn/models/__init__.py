"""The data model: organisations, accounts, courses with immutable versions, notebooks.

A `Course` is the stable identity (slug, owning organisation). Its content lives
in numbered `CourseVersion`s: each distinct import of the course folder is a new
version, and a published version is never modified in place, so a learner can
stay on the version they enrolled in. Notebooks are stored once, addressed by
the sha256 of their canonical JSON (`NotebookBlob`).

`from panlearn.models import X` is the one way to import a model: the modules
below hold them by feature (`columns`: shared column types; `accounts`,
`courses`, `quizzes`, `grading`, `progress`, `credentials`, `lti`), and this
package imports every one of them so SQLAlchemy knows every mapped class
before the first query.
"""

from __future__ import annotations

from panlearn.models.accounts import (
    ApiToken,
    Identity,
    IdentityKind,
    LoginState,
    Organisation,
    Role,
    User,
)
from panlearn.models.columns import UTCDateTime, utcnow
from panlearn.models.courses import (
    DEFAULT_PASS_MARK,
    LEVELS,
    Course,
    CourseVersion,
    Exercise,
    ImportJob,
    ImportJobState,
    Lesson,
    LessonKind,
    Module,
    NotebookBlob,
    VersionStatus,
    store_notebook_blob,
)
from panlearn.models.credentials import (
    Credential,
    OrganisationKey,
)
from panlearn.models.grading import (
    CheckResult,
    ExerciseDraft,
    GradingRun,
    LiveRun,
    LiveRunState,
    ReferenceAnswers,
    Submission,
    SubmissionState,
    SubmissionUpload,
)
from panlearn.models.lti import (
    LtiDeployment,
    LtiLineItem,
    LtiNonce,
    LtiPlatform,
)
from panlearn.models.progress import (
    CompletionKind,
    Enrolment,
    LessonCompletion,
)
from panlearn.models.quizzes import (
    QuizAttempt,
    QuizQuestion,
)

__all__ = [
    "ApiToken",
    "CheckResult",
    "CompletionKind",
    "Course",
    "CourseVersion",
    "Credential",
    "DEFAULT_PASS_MARK",
    "LEVELS",
    "Enrolment",
    "Exercise",
    "ExerciseDraft",
    "GradingRun",
    "Identity",
    "IdentityKind",
    "ImportJob",
    "ImportJobState",
    "Lesson",
    "LessonCompletion",
    "LessonKind",
    "LiveRun",
    "LiveRunState",
    "LoginState",
    "LtiDeployment",
    "LtiLineItem",
    "LtiNonce",
    "LtiPlatform",
    "Module",
    "NotebookBlob",
    "Organisation",
    "OrganisationKey",
    "QuizAttempt",
    "QuizQuestion",
    "ReferenceAnswers",
    "Role",
    "Submission",
    "SubmissionState",
    "SubmissionUpload",
    "UTCDateTime",
    "User",
    "VersionStatus",
    "store_notebook_blob",
    "utcnow",
]

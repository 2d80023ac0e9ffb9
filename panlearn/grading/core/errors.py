"""Grading exceptions, split by whose fault they are.

`InvalidInputError` kinds are caused by the uploaded content (a submission for
another exercise, a broken exercise notebook) and are answered with a 400; the
`GradingError` kinds are platform failures: the submission is marked
``failed`` and may be retried, it never costs the student points.
"""

from __future__ import annotations

from panlearn.errors import GradingError, InvalidInputError


class ExerciseSpecError(InvalidInputError):
    """The author's exercise notebook breaks the authoring contract."""

    title, slug = "Invalid exercise notebook", "invalid-exercise"


class SubmissionRejectedError(InvalidInputError):
    """The submitted notebook cannot be graded (not a notebook, another exercise, too big)."""

    title, slug = "Submission rejected", "submission-rejected"


class InvalidParametersError(InvalidInputError):
    """Dataset parameters that are not declared identifiers with plain JSON values."""

    title, slug = "Invalid parameters", "invalid-parameters"


class SandboxUnavailableError(GradingError):
    """The configured sandbox cannot be used on this machine (e.g. bwrap missing)."""

    title, slug = "Sandbox unavailable", "sandbox-unavailable"


class KernelStartError(GradingError):
    """A sandboxed kernel did not start or did not become ready in time."""

    title, slug = "Kernel failed to start", "kernel-start-failed"

"""Plausible student mistakes for the shipped exercises, declared per course.

Each course has a module `mistakes_<course_slug_with_underscores>.py` holding
`MISTAKES = [Mistake(...), ...]`. The shipped-courses test grades, for every
mistake, the exercise's reference solution with the given solution cells
replaced, and checks that the named check loses its points with a message
that points at the mistake.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Mistake:
    """One wrong answer and what the grader must say about it."""

    #: The exercise notebook, relative to its course folder.
    lesson_file: str
    #: grade_id of a solution cell → the code a student might write there.
    answers: dict[str, str] = field(hash=False)
    #: grade_id of the check that must fail (lose all its points).
    failing_check: str
    #: A fragment the failing check's message must contain (case-insensitive).
    message_fragment: str

    @property
    def label(self) -> str:
        """A short id for test reports."""
        return f"{self.lesson_file}:{self.failing_check}:{self.message_fragment[:24]}"

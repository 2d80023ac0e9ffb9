"""The report of a validation or an import, as it is made.

One shape for every way a course is checked: the CLI prints it, the API
returns it, the author's workspace stores it in an `ImportJob` after each
change and the page shows it while it grows. Plain data (JSON-ready), so a
report survives the request and the process that made it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from panlearn.authoring.manifest import Problem

#: Grading states of one exercise, in the order they happen.
WAITING, GRADING, PASSED, FAILED = "waiting", "grading", "passed", "failed"
#: Not graded: the same notebook passed at an earlier import, or its data is not at hand.
REUSED, SKIPPED = "reused", "skipped"


@dataclass
class ExerciseReport:
    """The grading of one exercise's reference solution (and of its blank student version)."""

    course: str
    file: str
    title: str
    state: str = WAITING
    message: str = ""
    seconds: float | None = None

    @property
    def done(self) -> bool:
        """No more work will be done on it."""
        return self.state not in (WAITING, GRADING)


@dataclass
class ImportResult:
    """What an import did to one course."""

    slug: str
    version: int
    outcome: str  # "created", "new-version", "unchanged", "published"
    status: str


@dataclass
class ImportReport:
    """Problems, exercise gradings and outcomes; `listener` hears every change."""

    problems: list[Problem] = field(default_factory=list)
    exercises: list[ExerciseReport] = field(default_factory=list)
    outcomes: list[ImportResult] = field(default_factory=list)
    #: Set once nothing more will be added: "valid", "invalid", "imported", "failed".
    result: str | None = None
    listener: Callable[[ImportReport], None] | None = field(default=None, repr=False,
                                                             compare=False)
    _started: dict[int, float] = field(default_factory=dict, repr=False, compare=False)

    def changed(self) -> None:
        """Tell the listener (e.g. store the report for the page that shows it)."""
        if self.listener is not None:
            self.listener(self)

    def add_problems(self, problems: list[Problem]) -> None:
        """Record problems found."""
        if problems:
            self.problems.extend(problems)
            self.changed()

    def plan(self, course: str, file: str, title: str, state: str = WAITING,
             message: str = "") -> ExerciseReport:
        """Announce an exercise that will be graded (or why it will not be)."""
        entry = ExerciseReport(course=course, file=file, title=title, state=state,
                               message=message)
        self.exercises.append(entry)
        return entry

    def start(self, entry: ExerciseReport) -> None:
        """An exercise's grading begins."""
        entry.state = GRADING
        self._started[id(entry)] = time.monotonic()
        self.changed()

    def finish(self, entry: ExerciseReport, state: str, message: str = "") -> None:
        """An exercise's grading ended."""
        entry.state, entry.message = state, message
        began = self._started.pop(id(entry), None)
        entry.seconds = round(time.monotonic() - began, 1) if began is not None else None
        self.changed()

    @property
    def graded(self) -> int:
        """Exercises whose grading is over."""
        return sum(entry.done for entry in self.exercises)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"problems": [problem.as_dict() for problem in self.problems],
                "exercises": [asdict(entry) for entry in self.exercises],
                "outcomes": [asdict(outcome) for outcome in self.outcomes],
                "result": self.result}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> ImportReport:
        """Read back what `as_dict` wrote."""
        data = data or {}
        return cls(problems=[Problem(**problem) for problem in data.get("problems", [])],
                   exercises=[ExerciseReport(**entry) for entry in data.get("exercises", [])],
                   outcomes=[ImportResult(**outcome) for outcome in data.get("outcomes", [])],
                   result=data.get("result"))

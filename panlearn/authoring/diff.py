"""What changed between two versions of a course, as an author checks it before publishing.

Lessons are matched by slug (the identity learners' completions carry across
versions): added, removed, or changed (notebook, title, kind or place). For
exercises present in both, the checks are compared by grade id: added,
removed, points changed, or code changed (hidden tests included). Metadata
fields are compared one by one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import nbformat

from panlearn.grading.core.nbgrader import meta as nbgrader_meta
from panlearn.models import CourseVersion, Lesson

#: The metadata an author edits in course.yml, as the diff names them.
FIELDS = (("title", "title"), ("summary", "summary"), ("level", "level"),
          ("techniques", "techniques"), ("licence", "licence"), ("version", "version label"),
          ("authors", "authors"), ("prerequisites", "prerequisites"),
          ("objectives", "objectives"), ("pass_mark", "pass mark"))


@dataclass(frozen=True)
class FieldChange:
    """One metadata field, before and after."""

    name: str
    old: Any
    new: Any


@dataclass
class LessonChange:
    """A lesson added, removed or changed, with what changed."""

    slug: str
    title: str
    change: str  # "added", "removed", "changed"
    details: list[str] = field(default_factory=list)


@dataclass
class CheckChanges:
    """How an exercise's checks changed (exercises present in both versions)."""

    slug: str
    title: str
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    #: (grade id, old points, new points)
    points: list[tuple[str, float, float]] = field(default_factory=list)
    code: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.points or self.code)


@dataclass
class VersionDiff:
    """Everything that differs; `against` is None when there is nothing to compare with."""

    against: CourseVersion | None
    fields: list[FieldChange] = field(default_factory=list)
    lessons: list[LessonChange] = field(default_factory=list)
    exercises: list[CheckChanges] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """Nothing changed (or nothing to compare with)."""
        return not (self.fields or self.lessons or self.exercises)


def version_diff(old: CourseVersion | None, new: CourseVersion) -> VersionDiff:
    """What `new` changes compared with `old`."""
    diff = VersionDiff(against=old)
    if old is None:
        return diff
    diff.fields = [FieldChange(label, getattr(old, name), getattr(new, name))
                   for name, label in FIELDS if getattr(old, name) != getattr(new, name)]
    before, after = _lessons(old), _lessons(new)
    for slug, (place, lesson) in after.items():
        if slug not in before:
            diff.lessons.append(LessonChange(slug, lesson.title, "added", [place]))
            continue
        old_place, old_lesson = before[slug]
        details = []
        if old_lesson.notebook_hash != lesson.notebook_hash:
            details.append("notebook changed")
        if old_lesson.title != lesson.title:
            details.append(f"title was “{old_lesson.title}”")
        if old_lesson.kind != lesson.kind:
            details.append(f"now {lesson.kind.value}, was {old_lesson.kind.value}")
        if old_place != place:
            details.append(f"moved: {place}")
        if details:
            diff.lessons.append(LessonChange(slug, lesson.title, "changed", details))
        if lesson.exercise is not None and old_lesson.exercise is not None \
                and old_lesson.notebook_hash != lesson.notebook_hash:
            checks = _check_changes(old_lesson, lesson)
            if checks:
                diff.exercises.append(checks)
    diff.lessons.extend(LessonChange(slug, lesson.title, "removed")
                        for slug, (_, lesson) in before.items() if slug not in after)
    return diff


def _lessons(version: CourseVersion) -> dict[str, tuple[str, Lesson]]:
    return {lesson.slug: (f"module {module.position} “{module.title}”, lesson {lesson.position}",
                          lesson)
            for module in version.modules for lesson in module.lessons}


def _checks(lesson: Lesson) -> dict[str, tuple[float, str]]:
    """Grade id → (points, source with hidden tests) of each check cell."""
    notebook = nbformat.reads(lesson.notebook.content.decode("utf-8"), as_version=4)
    found: dict[str, tuple[float, str]] = {}
    for cell in notebook.cells:
        meta = nbgrader_meta(cell)
        if meta.get("grade") and not meta.get("solution") and meta.get("grade_id"):
            found[str(meta["grade_id"])] = (float(meta.get("points") or 0), cell.source)
    return found


def _check_changes(old: Lesson, new: Lesson) -> CheckChanges:
    before, after = _checks(old), _checks(new)
    changes = CheckChanges(new.slug, new.title)
    changes.added = [gid for gid in after if gid not in before]
    changes.removed = [gid for gid in before if gid not in after]
    for gid in after.keys() & before.keys():
        if before[gid][0] != after[gid][0]:
            changes.points.append((gid, before[gid][0], after[gid][0]))
        if before[gid][1] != after[gid][1]:
            changes.code.append(gid)
    changes.points.sort()
    changes.code.sort()
    return changes

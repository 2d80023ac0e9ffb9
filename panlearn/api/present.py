"""Turning models into the plain dicts the response schemas dump."""

from __future__ import annotations

from typing import Any

from panlearn.accounts.permissions import can_view_version
from panlearn.catalogue import neighbours
from panlearn.models import CourseVersion, Lesson, User


def course_summary(version: CourseVersion) -> dict[str, Any]:
    """The fields of `CourseSchema`."""
    return {
        "slug": version.course.slug,
        "title": version.title,
        "summary": version.summary,
        "level": version.level,
        "language": version.language,
        "techniques": version.techniques,
        "organisation": version.course.organisation.slug,
        "licence": version.licence,
        "authors": version.authors,
        "version": version.version,
        "version_number": version.number,
        "status": version.status.value,
        "source_hash": version.source_hash,
        "published_at": version.published_at,
        "url": f"/courses/{version.course.slug}",
    }


def course_detail(version: CourseVersion, viewer: User | None) -> dict[str, Any]:
    """The fields of `CourseDetailSchema`."""
    data = course_summary(version)
    data["prerequisites"] = version.prerequisites
    data["objectives"] = version.objectives
    data["versions"] = [
        {"number": v.number, "version": v.version, "status": v.status.value,
         "published_at": v.published_at.isoformat() if v.published_at else None,
         "published_by": v.published_by.username if v.published_by else None,
         "archived_at": v.archived_at.isoformat() if v.archived_at else None,
         "source_uri": v.source_uri, "source_ref": v.source_ref}
        for v in version.course.versions if can_view_version(viewer, v)
    ]
    data["modules"] = [
        {"position": module.position, "title": module.title, "summary": module.summary,
         "lessons": [lesson_summary(lesson) for lesson in module.lessons]}
        for module in version.modules
    ]
    return data


def lesson_summary(lesson: Lesson) -> dict[str, Any]:
    """The fields of `LessonSummarySchema`."""
    return {
        "id": lesson.id,
        "slug": lesson.slug,
        "title": lesson.title,
        "kind": lesson.kind.value,
        "position": lesson.position,
        "exercise_id": lesson.exercise.id if lesson.exercise else None,
        "url": f"/lessons/{lesson.id}",
    }


def lesson_detail(lesson: Lesson) -> dict[str, Any]:
    """The fields of `LessonSchema`."""
    version = lesson.module.course_version
    before, after = neighbours(lesson)
    data = lesson_summary(lesson)
    data.update({
        "course": version.course.slug,
        "course_version": version.number,
        "module": lesson.module.title,
        "notebook_hash": lesson.notebook_hash,
        "points": lesson.exercise.points if lesson.exercise else None,
        "previous_id": before.id if before else None,
        "next_id": after.id if after else None,
        "notebook_url": f"/api/lessons/{lesson.id}/notebook",
    })
    return data

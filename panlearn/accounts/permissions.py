"""Who may see and change what. One place for every rule, tested as a table.

Students see published course versions only. Authors and admins also see and
change the drafts of their own organisation. Nobody changes another
organisation's courses; anonymous visitors see what students see.
"""

from __future__ import annotations

from panlearn.errors import ForbiddenError, UnauthorizedError
from panlearn.models import Course, CourseVersion, Role, User, VersionStatus


def is_staff_of(user: User | None, course: Course) -> bool:
    """An author or admin of the organisation that owns `course`."""
    return (
        user is not None
        and user.role in (Role.AUTHOR, Role.ADMIN)
        and user.organisation_id is not None
        and user.organisation_id == course.organisation_id
    )


def can_view_version(user: User | None, version: CourseVersion) -> bool:
    """Published and archived versions are public; drafts only to their organisation's staff.

    Archived versions stay readable so that learners keep the version they
    enrolled in; they are only left out of the catalogue.
    """
    return version.status != VersionStatus.DRAFT or is_staff_of(user, version.course)


def visible_version(user: User | None, course: Course) -> CourseVersion | None:
    """The version the catalogue shows: the newest published, or any newest for staff."""
    if is_staff_of(user, course):
        return course.versions[-1] if course.versions else None
    for version in reversed(course.versions):
        if version.status == VersionStatus.PUBLISHED:
            return version
    return None


def require_staff(user: User | None, course: Course) -> User:
    """Raise unless `user` may change `course`."""
    if user is None:
        raise UnauthorizedError("Sign in as an author of the course's organisation.")
    if not is_staff_of(user, course):
        raise ForbiddenError("Only authors of the course's organisation may change it.")
    return user


def require_author(user: User | None) -> User:
    """Raise unless `user` is an author or admin with an organisation."""
    if user is None:
        raise UnauthorizedError("Sign in as an author.")
    if user.role not in (Role.AUTHOR, Role.ADMIN) or user.organisation_id is None:
        raise ForbiddenError("Only authors and admins of an organisation may do this.")
    return user


def is_try_out(user: User | None, version: CourseVersion) -> bool:
    """An author trying an exercise, not a learner doing it: kept out of learners' figures.

    Every submission to a draft (only its organisation's staff can see one),
    and the submissions of the organisation's own authors and admins.
    """
    return version.status == VersionStatus.DRAFT or is_staff_of(user, version.course)

"""What the search index is fed and who is asking: plain values, no ORM.

The app builds `SearchDocument`s from its models after a commit and hands
them to `Index.upsert`; keeping the index's input a plain dataclass is what
lets search be tested without Flask or a database, and lets a rebuild and an
incremental update share one code path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["course", "lesson", "exercise"]
Status = Literal["draft", "published"]

KINDS: tuple[str, ...] = ("course", "lesson", "exercise")
STATUSES: tuple[str, ...] = ("draft", "published")
# Roles that may see drafts, but only those of their own organisation.
DRAFT_ROLES: frozenset[str] = frozenset({"author", "admin"})


def course_doc_id(course_slug: str) -> str:
    """Return the index id of a course's own document."""
    return f"course:{course_slug}"


def lesson_doc_id(lesson_id: int | str) -> str:
    """Return the index id of a lesson (reading or exercise lesson)."""
    return f"lesson:{lesson_id}"


def exercise_doc_id(exercise_id: int | str) -> str:
    """Return the index id of an exercise indexed apart from its lesson."""
    return f"exercise:{exercise_id}"


@dataclass(frozen=True, slots=True)
class SearchDocument:
    """One searchable thing: a course, a lesson or an exercise.

    `markdown` and `code` come from `extract_notebook_text` on the *student*
    version of the notebook, so solutions and hidden checks never reach the
    index. Facet values (`techniques`, `facility`, `level`) are kept as the
    catalogue writes them: that is how they are shown in facet counts, while
    filtering on them ignores case.
    """

    doc_id: str
    kind: Kind
    title: str
    url: str
    course_slug: str
    course_title: str
    status: Status
    organisation_slug: str
    summary: str = ""
    markdown: str = ""
    code: str = ""
    techniques: tuple[str, ...] = ()
    facility: str = ""
    level: str = ""
    licence: str = ""
    lesson_id: int | None = None
    language: str = "en"
    # Order inside the course, used when browsing without a query.
    position: int = 0

    def __post_init__(self) -> None:
        # Programming errors in the caller, not user input: fail loudly.
        if not self.doc_id:
            raise ValueError("SearchDocument.doc_id must not be empty")
        if self.kind not in KINDS:
            raise ValueError(f"SearchDocument.kind must be one of {KINDS}, not {self.kind!r}")
        if self.status not in STATUSES:
            raise ValueError(
                f"SearchDocument.status must be one of {STATUSES}, not {self.status!r}"
            )
        if isinstance(self.techniques, str):
            raise TypeError("SearchDocument.techniques is a sequence of names, not one string")
        # Accept a list from callers; store a tuple so the document stays hashable.
        object.__setattr__(self, "techniques", tuple(self.techniques))


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is searching: decides whether drafts are visible.

    Published documents are visible to everyone; a draft only to authors and
    admins of the organisation that owns it.
    """

    role: str = "anonymous"
    organisation_slug: str | None = None

    @classmethod
    def anonymous(cls) -> Viewer:
        """Return a visitor who is not logged in."""
        return cls()

    def draft_organisations(self) -> tuple[str, ...]:
        """Organisations whose drafts this viewer may see (none for students)."""
        if self.role.lower() not in DRAFT_ROLES:
            return ()
        return (self.organisation_slug,) if self.organisation_slug else ()

"""Who may see drafts, and the ids documents carry."""

from __future__ import annotations

import pytest

from panlearn.search import Viewer, course_doc_id, exercise_doc_id, lesson_doc_id


@pytest.mark.parametrize(
    ("viewer", "expected"),
    [
        (Viewer.anonymous(), ()),
        (Viewer(role="student", organisation_slug="ill"), ()),
        (Viewer(role="author", organisation_slug="ill"), ("ill",)),
        (Viewer(role="ADMIN", organisation_slug="esrf"), ("esrf",)),
        (Viewer(role="author", organisation_slug=None), ()),
    ],
)
def test_only_authors_and_admins_see_drafts_of_their_own_organisation(
    viewer: Viewer, expected: tuple[str, ...]
) -> None:
    assert viewer.draft_organisations() == expected


def test_doc_ids_name_their_kind() -> None:
    assert course_doc_id("sans") == "course:sans"
    assert lesson_doc_id(12) == "lesson:12"
    assert exercise_doc_id("7") == "exercise:7"

"""Every bad query or parameter is an InvalidInputError with a reason, never a crash."""

from __future__ import annotations

from typing import Any

import pytest

from panlearn.errors import InvalidInputError
from panlearn.search import Index, Viewer, search

from .conftest import make_doc


@pytest.mark.parametrize(
    "q",
    [
        '"unclosed phrase',
        "(neutron OR xray",
        "neutron)",
        "foo:bar",
        "status:draft",
        "title:",
        "neutron AND",
        "OR neutron",
        "neutron AND OR xray",
        "*",
        "d*",
        "*tion",
        "?",
        "()",
        "x" * 501,
        "a\x00b",
    ],
)
def test_bad_query_syntax_is_invalid_input(catalogue_index: Index, q: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        search(catalogue_index, q, viewer=Viewer())
    assert caught.value.status == 400
    assert caught.value.errors and "q" in caught.value.errors
    assert caught.value.detail


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page": 0}, "page"),
        ({"page": "2"}, "page"),
        ({"page": True}, "page"),
        ({"page": 10_000}, "page"),
        ({"per_page": 0}, "per_page"),
        ({"per_page": 1000}, "per_page"),
        ({"kind": "video"}, "kind"),
        ({"technique": ""}, "technique"),
        ({"facility": ["ILL", 3]}, "facility"),
        ({"level": "x" * 300}, "level"),
    ],
)
def test_bad_parameters_are_invalid_input(
    catalogue_index: Index, params: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        search(catalogue_index, "neutron", viewer=Viewer(), **params)
    assert caught.value.errors and field in caught.value.errors


def odd_notation(catalogue_index: Index) -> Index:
    """The catalogue plus a lesson holding each odd query's text literally."""
    catalogue_index.upsert([make_doc(
        "lesson:9",
        title="Odd notation",
        markdown="Mix the buffers at a ratio 1:3. The trigger is an AND-gate. "
        "Slides: https://pan-training.eu",
        code="# Q: what is q?\n# mix at ratio 1:3\ny = x^3  # XOR, not a cube",
        lesson_id=9,
        position=3,
        techniques=("Reflectometry",),
    )])
    return catalogue_index


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        # Not a field "1": the words ratio, 1 and 3.
        ("ratio 1:3", {"lesson:9"}),
        # Not a field "Q", and the question mark ends a question, not a wildcard.
        ("Q: what is q?", {"lesson:9"}),
        # Neither a field "https" nor "-training" excluded.
        ("https://pan-training.eu", {"lesson:9"}),
        # Field names and short names ignore case.
        ("Technique:SANS", {"course:sans", "lesson:1", "lesson:2"}),
        ('title:"radial averaging"', {"lesson:2"}),
        # Not a boost: x and 3.
        ("x^3", {"lesson:9"}),
        # Not the operator AND, nor "-gate" excluded.
        ("AND-gate", {"lesson:9"}),
        # Only a stop word: nothing to find, and no error either.
        ("the", set()),
        ("(neutron OR xray) AND intensity", {"lesson:1", "lesson:2"}),
        ("2θ", {"lesson:3"}),
    ],
)
def test_odd_but_valid_queries_are_read_as_typed(
    catalogue_index: Index, q: str, expected: set[str]
) -> None:
    index = odd_notation(catalogue_index)
    result = search(index, q, viewer=Viewer(), per_page=100)
    assert {hit.doc_id for hit in result.hits} == expected
    assert result.total == len(expected)

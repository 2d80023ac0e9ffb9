"""Every bad query or parameter is an InvalidInputError with a reason, never a crash."""

from __future__ import annotations

from typing import Any

import pytest

from panlearn.errors import InvalidInputError
from panlearn.search import Index, Viewer, search


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


@pytest.mark.parametrize(
    "q",
    [
        "ratio 1:2",
        "Q: what is q?",
        "https://pan-training.eu",
        "Technique:SANS",
        'title:"radial averaging"',
        "x^2",
        "AND-gate",
        "the",
        "(neutron OR xray) AND intensity",
        "2θ",
    ],
)
def test_odd_but_valid_queries_are_searched(catalogue_index: Index, q: str) -> None:
    result = search(catalogue_index, q, viewer=Viewer())
    assert result.total >= 0

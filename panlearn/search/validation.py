"""Checking what a user typed or clicked before whoosh sees it.

whoosh's query parser is lenient to a fault (an unclosed quote or a
dangling `AND` is silently reinterpreted), so the syntax is checked here
first and the user is told. Anything wrong becomes an `InvalidInputError`
naming the parameter, so the API answers 400 with a reason and never 500.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from panlearn.errors import InvalidInputError
from panlearn.search.schema import USER_FIELDS, facet_value

MAX_QUERY_CHARS = 500
MAX_PER_PAGE = 100
# Deep pages cost a full top-N collection; nobody reads result page 200.
MAX_PAGE = 100
MAX_FACET_VALUE_CHARS = 200
# A wildcard needs this many literal characters before it: `d*` would expand
# to most of the vocabulary and `*ion` cannot use the sorted term list.
MIN_WILDCARD_PREFIX = 2

#: A field prefix such as `title:` (not inside a word, a dotted name or a URL).
FIELD_PREFIX = re.compile(r"(?<![\w:.])([A-Za-z_]\w*):(?!//)")
_OPERATORS = frozenset({"AND", "OR", "NOT", "ANDNOT", "ANDMAYBE"})
_WORD = re.compile(r'"[^"]*"|[^\s()"]+')
# A question mark ending a word ends a question ("what is q?"), not a wildcard.
_END_QUESTION_MARK = re.compile(r"(?<=\w)\?+(?=\s|\)|$)")


def invalid(name: str, message: str) -> InvalidInputError:
    """The error for one bad parameter, with `message` as its reason."""
    return InvalidInputError(message, errors={name: [message]})


def check_query(q: str | None) -> str:
    """Reject what whoosh would silently misread; return the stripped query."""
    if q is None:
        return ""
    if not isinstance(q, str):
        raise invalid("q", "The query must be text.")
    text = _END_QUESTION_MARK.sub("", q).strip()
    if len(text) > MAX_QUERY_CHARS:
        raise invalid("q", f"The query is longer than {MAX_QUERY_CHARS} characters.")
    if "\x00" in text:
        raise invalid("q", "The query contains a NUL character.")
    if text.count('"') % 2:
        raise invalid("q", "A quotation mark is not closed.")
    # Phrases become a placeholder word, so `title:"bragg law"` still has a value.
    outside_quotes = re.sub(r'"[^"]*"', "Q", text)
    depth = 0
    for char in outside_quotes:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            raise invalid("q", "A closing parenthesis has no opening one.")
    if depth:
        raise invalid("q", "A parenthesis is not closed.")
    for match in FIELD_PREFIX.finditer(outside_quotes):
        name = match.group(1)
        rest = outside_quotes[match.end() :]
        has_value = bool(rest) and not rest[0].isspace() and rest[0] != ")"
        if name.lower() in USER_FIELDS:
            if not has_value:
                raise invalid("q", f"The field {name!r} has no value.")
        elif has_value:
            known = ", ".join(sorted(USER_FIELDS))
            raise invalid("q", f"Unknown field {name!r}; known fields: {known}.")
        # else: prose such as "Q: what is q?"; whoosh reads it as text too.
    words = _WORD.findall(re.sub(r"[()]", " ", outside_quotes))
    _check_operators(words)
    for word in words:
        _check_wildcard(word)
    return text


def _check_operators(words: list[str]) -> None:
    binary = _OPERATORS - {"NOT"}
    if words and words[-1] in _OPERATORS:
        raise invalid("q", f"{words[-1]} needs a word after it.")
    if words and words[0] in binary:
        raise invalid("q", f"{words[0]} needs a word before it.")
    for left, right in zip(words, words[1:], strict=False):
        if left in binary and right in binary:
            raise invalid("q", f"{left} and {right} follow each other without a word between.")


def _check_wildcard(word: str) -> None:
    value = word.split(":", 1)[1] if FIELD_PREFIX.match(word) else word
    value = value.lstrip("+-")
    position = min((i for i in (value.find("*"), value.find("?")) if i >= 0), default=-1)
    if position >= 0 and position < MIN_WILDCARD_PREFIX:
        raise invalid(
            "q",
            f"{word!r}: a wildcard needs at least {MIN_WILDCARD_PREFIX} letters before it.",
        )


def check_paging(page: Any, per_page: Any) -> None:
    """Page and page size must be whole numbers within their bounds."""
    for name, value, upper in (("page", page, MAX_PAGE), ("per_page", per_page, MAX_PER_PAGE)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise invalid(name, f"{name} must be a whole number.")
        if not 1 <= value <= upper:
            raise invalid(name, f"{name} must be between 1 and {upper}.")


def check_facet_values(
    name: str, value: str | Sequence[str] | None, *, allowed: Sequence[str] | None = None
) -> list[str]:
    """The facet filter's values as the index spells its terms (lower case).

    One value or several (any of them matches); none when `value` is None.
    """
    if value is None:
        return []
    values = [value] if isinstance(value, str) else list(value)
    normalised = []
    for raw in values:
        if not isinstance(raw, str) or not raw.strip():
            raise invalid(name, f"{name} must be a non-empty text value.")
        if len(raw) > MAX_FACET_VALUE_CHARS:
            raise invalid(name, f"{name} is longer than {MAX_FACET_VALUE_CHARS} characters.")
        term = facet_value(raw).lower()
        if allowed is not None and term not in allowed:
            raise invalid(name, f"{name} must be one of: {', '.join(allowed)}.")
        normalised.append(term)
    return normalised

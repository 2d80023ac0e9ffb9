"""The whoosh schema, and how a `SearchDocument` becomes index fields.

Every facet exists twice: `<facet>` is lowercased for filtering and field
queries (`technique:sans` and `technique:SANS` both work), while
`<facet>_label` keeps the catalogue's spelling so facet counts can be shown
as written ("SANS", "X-ray diffraction") without a lookup table.
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any

from whoosh.fields import ID, KEYWORD, STORED, TEXT, FieldType, Schema
from whoosh.formats import Existence
from whoosh.system import pack_uint

from panlearn.search.analysis import (
    code_analyzer,
    code_positions,
    code_spans,
    prose_analyzer,
    prose_positions,
    prose_spans,
    word_analyzer,
)
from panlearn.search.documents import SearchDocument

# Facet name → the query field that filters on it (same name) and the label
# field that counts it.
FACETS: tuple[str, ...] = ("technique", "facility", "level", "kind")

# Free-text fields a plain query runs over, with their boosts: a title hit
# must outrank a body hit even when the body is long.
TEXT_FIELD_BOOSTS: dict[str, float] = {
    "title": 6.0,
    "summary": 2.0,
    "keywords": 1.5,
    "markdown": 1.0,
    "code": 1.0,
}

# Names a user may put before a colon, mapped to index fields; anything else
# is rejected so `status:` or `org:` are not a way to probe the index.
USER_FIELDS: dict[str, str] = {
    "title": "title",
    "summary": "summary",
    "text": "markdown",
    "markdown": "markdown",
    "code": "code",
    "technique": "technique",
    "techniques": "technique",
    "facility": "facility",
    "organisation": "facility",
    "organization": "facility",
    "level": "level",
    "kind": "kind",
    "licence": "licence",
    "license": "licence",
    "language": "language",
    "lang": "language",
    "course": "course_slug",
}

# Browsing (empty query) lists courses first, then lessons and exercises in
# course order (an exercise is a lesson of kind exercise in the outline).
KIND_RANK: dict[str, int] = {"course": 0, "lesson": 1, "exercise": 1}

# Separator inside the composite sort key (sorts before any printable character).
_KEY_SEP = "\x1f"
# Same words as analysis.word_analyzer picks out.
_WORDS = re.compile(r"[^\W\d_]{2,}")
# Field separator for multi-valued keyword fields; values never contain it.
_SEP = ","


# Bump when what is indexed changes in a way the field list does not show
# (an analyzer's rules, what a field is fed): an index written by another
# version is recreated empty and `Index.recreated` asks for a rebuild.
#   1: first schema.  2: fused index-time analysis, `words` without frequencies.
# (The postings files of bulk.py need no bump: the whoosh files are unchanged,
# and a segment written without one is searched through whoosh's blocks.)
SCHEMA_VERSION = 2


class PanlearnSchema(Schema):
    """A whoosh schema that remembers which `SCHEMA_VERSION` wrote the index.

    whoosh pickles the schema into the index's table of contents, so the
    attribute comes back when the index is opened.
    """

    panlearn_version: int | None = None


@lru_cache(maxsize=16)
def _weights(boost: float) -> Callable[[int], float]:
    """`count * boost` for small counts as shared float objects (a rebuild holds millions)."""
    table = [count * boost for count in range(256)]
    return lambda count: table[count] if count < 256 else count * boost


# Most terms occur once in a field: their encoded positions repeat across documents.
_SINGLE_POSITION: dict[int, bytes] = {}
_SINGLE_POSITION_CACHED = 1 << 16
_ONE = pack_uint(1)


def encode_positions(positions: list[int]) -> bytes:
    """The bytes of whoosh's `Positions.encode(positions)`, computed faster.

    Deltas in a list comprehension rather than a loop, and a cache for the
    one-position lists that are most postings (tests compare the bytes).
    """
    if len(positions) == 1:
        position = positions[0]
        cached = _SINGLE_POSITION.get(position)
        if cached is None:
            cached = _ONE + pickle.dumps(positions, 2)
            if position < _SINGLE_POSITION_CACHED:
                _SINGLE_POSITION[position] = cached
        return cached
    deltas = [b - a for a, b in zip([0, *positions], positions, strict=False)]
    return pack_uint(len(deltas)) + pickle.dumps(deltas, 2)


class _FastPositions(TEXT):
    """A positional TEXT field whose terms come from a one-pass function when indexing.

    Queries, highlighting and snippets still use `analyzer`; `_positions`
    must give exactly the analyzer's index-time terms and positions (checked
    by tests/unit/search/test_analysis.py).
    """

    def _positions(self, value: str) -> dict[str, list[int]]:
        raise NotImplementedError

    def index(self, value: Any, **kwargs: Any) -> Iterator[tuple[bytes, int, float, bytes]]:
        if kwargs or not isinstance(value, str):
            yield from super().index(value, **kwargs)
            return
        for tbytes, freq, weight, vbytes, _ in self.postings(value):
            yield tbytes, freq, weight, vbytes

    def postings(self, value: str) -> Iterator[tuple[bytes, int, float, bytes, list[int]]]:
        """What `index` yields, plus the positions themselves (for the bulk writer)."""
        weight = _weights(self.format.field_boost)
        for term, positions in self._positions(value).items():
            count = len(positions)
            yield term.encode("utf-8"), count, weight(count), encode_positions(positions), positions


class ProseField(_FastPositions):
    """English prose: `prose_analyzer`, indexed through `prose_positions`."""

    def _positions(self, value: str) -> dict[str, list[int]]:
        return prose_positions(value)

    def spans(self, value: str) -> Iterator[tuple[str, int, int]]:
        """Terms and their characters, for snippets (see `analysis.prose_spans`)."""
        return prose_spans(value)


class CodeField(_FastPositions):
    """Notebook code: `code_analyzer`, indexed through `code_positions`."""

    def _positions(self, value: str) -> dict[str, list[int]]:
        return code_positions(value)

    def spans(self, value: str) -> Iterator[tuple[str, int, int]]:
        """Terms and their characters, for snippets (see `analysis.code_spans`)."""
        return code_spans(value)


class WordsField(FieldType):
    """The spelling vocabulary: which documents have a word, nothing more.

    No frequencies, positions or lengths: it is never scored, only looked up
    (`terms_within`, `doc_frequency`) for "did you mean"; so it stays out of
    the numpy postings files too (a third of all postings).
    """

    in_postings_file = False

    def __init__(self) -> None:
        super().__init__(Existence(), word_analyzer())

    def index(self, value: Any, **kwargs: Any) -> Iterator[tuple[bytes, int, float, bytes]]:
        """Each distinct word once, as `word_analyzer` would index it."""
        if kwargs or not isinstance(value, str):
            yield from super().index(value, **kwargs)
            return
        for tbytes, freq, weight, vbytes, _ in self.postings(value):
            yield tbytes, freq, weight, vbytes

    def postings(self, value: str) -> Iterator[tuple[bytes, int, float, bytes, None]]:
        """What `index` yields, in the bulk writer's form (no positions)."""
        boost = float(self.format.field_boost)
        for word in {word.lower() for word in _WORDS.findall(value)}:
            yield word.encode("utf-8"), 1, boost, b"", None


def build_schema() -> Schema:
    """Build a fresh schema (whoosh mutates field objects, so never share one)."""
    prose = prose_analyzer()
    schema = PanlearnSchema(
        doc_id=ID(unique=True, stored=True),
        # Prose and code: stored, because snippets are cut from the stored text.
        title=ProseField(analyzer=prose, stored=True),
        summary=ProseField(analyzer=prose, stored=True),
        markdown=ProseField(analyzer=prose, stored=True),
        code=CodeField(analyzer=code_analyzer(), stored=True),
        # Techniques, facility and course title, so a plain "SANS" finds SANS courses.
        keywords=ProseField(analyzer=prose),
        # Unstemmed vocabulary of published prose: the source of "did you mean".
        words=WordsField(),
        # Facets: lowercased for filtering, as written for counting and display.
        technique=KEYWORD(lowercase=True, commas=True),
        technique_label=KEYWORD(commas=True, stored=True),
        facility=KEYWORD(lowercase=True, commas=True),
        facility_label=KEYWORD(commas=True, stored=True),
        level=KEYWORD(lowercase=True, commas=True),
        level_label=KEYWORD(commas=True, stored=True),
        kind=KEYWORD(lowercase=True, commas=True),
        kind_label=KEYWORD(commas=True, stored=True),
        licence=ID(stored=True),
        language=ID(stored=True),
        status=ID(stored=True),
        organisation_slug=ID(stored=True),
        course_slug=ID(stored=True),
        course_title=STORED(),
        lesson_id=STORED(),
        url=STORED(),
        # Catalogue order as one sortable key: browsing without a query, and
        # breaking ties between equal scores (doc_id last, so nothing ties).
        order_key=ID(sortable=True),
    )
    schema.panlearn_version = SCHEMA_VERSION
    return schema


def order_key(doc: SearchDocument) -> str:
    """Sort key for catalogue order: courses first, then by course, position, title."""
    parts = (
        str(KIND_RANK[doc.kind]),
        doc.course_title.casefold(),
        f"{max(doc.position, 0):09d}",
        doc.title.casefold(),
        doc.doc_id,
    )
    return _KEY_SEP.join(parts)


def facet_value(value: str) -> str:
    """A facet value as indexed and filtered on: whitespace collapsed, no commas.

    Commas separate values in keyword fields; a stray one would split a name.
    """
    return " ".join(value.replace(_SEP, " ").split())


def _keywords(values: list[str]) -> str:
    return _SEP.join(v for v in (facet_value(value) for value in values) if v)


def document_fields(doc: SearchDocument) -> dict[str, Any]:
    """Map a document to the keyword arguments of `IndexWriter.update_document`."""
    techniques = _keywords(list(doc.techniques))
    facility = _keywords([doc.facility])
    level = _keywords([doc.level])
    fields: dict[str, Any] = {
        "doc_id": doc.doc_id,
        "title": doc.title,
        "summary": doc.summary,
        "markdown": doc.markdown,
        "code": doc.code,
        "keywords": " ".join([*doc.techniques, doc.facility, doc.course_title]),
        "technique": techniques,
        "technique_label": techniques,
        "facility": facility,
        "facility_label": facility,
        "level": level,
        "level_label": level,
        "kind": doc.kind,
        "kind_label": doc.kind,
        "licence": doc.licence.lower(),
        "language": doc.language.lower(),
        "status": doc.status,
        "organisation_slug": doc.organisation_slug,
        "course_slug": doc.course_slug,
        "course_title": doc.course_title,
        "lesson_id": doc.lesson_id,
        "url": doc.url,
        "order_key": order_key(doc),
    }
    # Drafts stay out of the suggestion vocabulary: "did you mean" must not
    # leak words of unpublished courses to people who cannot see them.
    if doc.status == "published":
        # Each word once: the field only feeds the spelling lexicon, so
        # deduplicating first saves analysing the whole text a second time.
        text = " ".join((doc.title, doc.summary, doc.markdown)).lower()
        fields["words"] = " ".join(sorted(set(_WORDS.findall(text))))
    # An empty value indexes nothing; leaving it out keeps stored records small.
    return {name: value for name, value in fields.items() if value not in ("", None)}

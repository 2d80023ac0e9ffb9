"""Searching the index: parse, filter by visibility and facets, rank, snippet, suggest.

`search` is the one entry point for the REST endpoint and the search page.
Everything a user types or clicks arrives here as plain values; anything
wrong with it becomes an `InvalidInputError` naming the parameter, so the
API answers 400 with a reason and never 500. whoosh's query parser is
lenient to a fault (an unclosed quote or a dangling `AND` is silently
reinterpreted), so the syntax is checked here first and the user is told.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from weakref import WeakKeyDictionary

from whoosh import query as wq
from whoosh.qparser import (
    FieldAliasPlugin,
    FieldsPlugin,
    MultifieldParser,
    PlusMinusPlugin,
    QueryParser,
)
from whoosh.qparser.plugins import BoostPlugin, RangePlugin
from whoosh.searching import Searcher
from whoosh.spelling import Corrector, SimpleQueryCorrector

from panlearn.errors import InvalidInputError
from panlearn.search.analysis import prose_analyzer
from panlearn.search.documents import KINDS, Viewer
from panlearn.search.index import Index
from panlearn.search.schema import (
    FACETS,
    TEXT_FIELD_BOOSTS,
    USER_FIELDS,
    _facet_value,
)

MAX_QUERY_CHARS = 500
MAX_PER_PAGE = 100
# Deep pages cost a full top-N collection; nobody reads result page 200.
MAX_PAGE = 100
MAX_FACET_VALUE_CHARS = 200
# A wildcard needs this many literal characters before it: `d*` would expand
# to most of the vocabulary and `*ion` cannot use the sorted term list.
MIN_WILDCARD_PREFIX = 2
# Snippets: fragment length, context either side of a match, and how much of
# a long notebook is re-tokenised to find them (a bound on highlighting cost).
SNIPPET_CHARS = 240
SNIPPET_SURROUND = 60
SNIPPET_CHAR_LIMIT = 20_000
# Scores equal to this many decimals tie, and ties go to catalogue order.
SCORE_DIGITS = 4
SNIPPET_FIELDS: tuple[str, ...] = ("summary", "markdown", "code")
# Fields whose lexicons decide whether a query word exists in the index at all.
_STEMMED_FIELDS: tuple[str, ...] = ("title", "summary", "markdown", "keywords")

_FIELD_PREFIX = re.compile(r"(?<![\w:.])([A-Za-z_]\w*):(?!//)")
_OPERATORS = frozenset({"AND", "OR", "NOT", "ANDNOT", "ANDMAYBE"})
_WORD = re.compile(r'"[^"]*"|[^\s()"]+')
# A question mark ending a word ends a question ("what is q?"), not a wildcard.
_END_QUESTION_MARK = re.compile(r"(?<=\w)\?+(?=\s|\)|$)")


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One result, with what a result list shows; `snippet` is safe HTML."""

    doc_id: str
    kind: str
    title: str
    url: str
    course_slug: str
    course_title: str
    lesson_id: int | None
    status: str
    techniques: tuple[str, ...]
    facility: str
    level: str
    # None when browsing without a query: the order is then the catalogue's.
    score: float | None
    snippet: str


@dataclass(frozen=True, slots=True)
class FacetCount:
    """How many results carry one facet value (as the catalogue spells it)."""

    value: str
    count: int


@dataclass(frozen=True, slots=True)
class SearchResult:
    """One page of results, the total, facet counts and a spelling suggestion."""

    query: str
    hits: list[SearchHit]
    total: int
    page: int
    per_page: int
    facets: dict[str, list[FacetCount]] = field(default_factory=dict)
    # The whole query with misspelled words replaced, or None.
    suggestion: str | None = None

    @property
    def pages(self) -> int:
        """How many pages the total fills (at least one, possibly empty)."""
        return max(1, math.ceil(self.total / self.per_page))


def search(
    index: Index,
    q: str | None,
    *,
    viewer: Viewer,
    technique: str | Sequence[str] | None = None,
    facility: str | Sequence[str] | None = None,
    level: str | Sequence[str] | None = None,
    kind: str | Sequence[str] | None = None,
    page: int = 1,
    per_page: int = 10,
) -> SearchResult:
    """Search what `viewer` may see; an empty `q` lists everything, for browsing.

    `q` supports words (all must match), `"phrases"`, prefixes (`diffract*`),
    field queries (`technique:SANS`, `title:bragg`), `OR`, `NOT`, `-word` and
    parentheses. Facet filters take one value or several (any of them
    matches) and ignore case. Facet counts are over the filtered query.

    Raises `InvalidInputError` for bad syntax or parameters.
    """
    text = _check_query(q)
    _check_paging(page, per_page)
    filters = [
        _facet_filter("technique", technique),
        _facet_filter("facility", facility),
        _facet_filter("level", level),
        _facet_filter("kind", kind, allowed=KINDS),
    ]
    filter_query = wq.And([_visibility(viewer), *(f for f in filters if f is not None)])

    with index.searcher() as searcher:
        cache = _cache_for(searcher)
        allowed = set(searcher.docs_for_query(filter_query))
        first, limit = (page - 1) * per_page, page * per_page
        if text:
            user_query = _parse(searcher, text)
            # One pass scores every match: it yields the total and the docs for
            # facet counts too, where a top-N search would run the query twice.
            scored = searcher.search(user_query, filter=allowed, limit=None).top_n
            matched = {docnum for _, docnum in scored}
            page_docs = _rank(scored, cache.order_key, first, limit)
            terms = _positive_terms(user_query, searcher.reader())
        else:
            matched = allowed
            page_docs = [(None, d) for d in cache.browse_order if d in matched][first:limit]
            terms = {}
        hits = [_hit(searcher, docnum, score, terms) for score, docnum in page_docs]
        facets = _facet_counts(cache.facet_docs, matched)
        suggestion = _suggest(searcher, text) if text else None

    return SearchResult(
        query=text,
        hits=hits,
        total=len(matched),
        page=page,
        per_page=per_page,
        facets=facets,
        suggestion=suggestion,
    )


# -- checking input -----------------------------------------------------------


def _invalid(name: str, message: str) -> InvalidInputError:
    return InvalidInputError(message, errors={name: [message]})


def _check_query(q: str | None) -> str:
    """Reject what whoosh would silently misread; return the stripped query."""
    if q is None:
        return ""
    if not isinstance(q, str):
        raise _invalid("q", "The query must be text.")
    text = _END_QUESTION_MARK.sub("", q).strip()
    if len(text) > MAX_QUERY_CHARS:
        raise _invalid("q", f"The query is longer than {MAX_QUERY_CHARS} characters.")
    if "\x00" in text:
        raise _invalid("q", "The query contains a NUL character.")
    if text.count('"') % 2:
        raise _invalid("q", "A quotation mark is not closed.")
    # Phrases become a placeholder word, so `title:"bragg law"` still has a value.
    outside_quotes = re.sub(r'"[^"]*"', "Q", text)
    depth = 0
    for char in outside_quotes:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            raise _invalid("q", "A closing parenthesis has no opening one.")
    if depth:
        raise _invalid("q", "A parenthesis is not closed.")
    for match in _FIELD_PREFIX.finditer(outside_quotes):
        name = match.group(1)
        rest = outside_quotes[match.end() :]
        has_value = bool(rest) and not rest[0].isspace() and rest[0] != ")"
        if name.lower() in USER_FIELDS:
            if not has_value:
                raise _invalid("q", f"The field {name!r} has no value.")
        elif has_value:
            known = ", ".join(sorted(USER_FIELDS))
            raise _invalid("q", f"Unknown field {name!r}; known fields: {known}.")
        # else: prose such as "Q: what is q?"; whoosh reads it as text too.
    words = _WORD.findall(re.sub(r"[()]", " ", outside_quotes))
    _check_operators(words)
    for word in words:
        _check_wildcard(word)
    return text


def _check_operators(words: list[str]) -> None:
    binary = _OPERATORS - {"NOT"}
    if words and words[-1] in _OPERATORS:
        raise _invalid("q", f"{words[-1]} needs a word after it.")
    if words and words[0] in binary:
        raise _invalid("q", f"{words[0]} needs a word before it.")
    for left, right in zip(words, words[1:], strict=False):
        if left in binary and right in binary:
            raise _invalid("q", f"{left} and {right} follow each other without a word between.")


def _check_wildcard(word: str) -> None:
    value = word.split(":", 1)[1] if _FIELD_PREFIX.match(word) else word
    value = value.lstrip("+-")
    position = min((i for i in (value.find("*"), value.find("?")) if i >= 0), default=-1)
    if position >= 0 and position < MIN_WILDCARD_PREFIX:
        raise _invalid(
            "q",
            f"{word!r}: a wildcard needs at least {MIN_WILDCARD_PREFIX} letters before it.",
        )


def _check_paging(page: Any, per_page: Any) -> None:
    for name, value, upper in (("page", page, MAX_PAGE), ("per_page", per_page, MAX_PER_PAGE)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise _invalid(name, f"{name} must be a whole number.")
        if not 1 <= value <= upper:
            raise _invalid(name, f"{name} must be between 1 and {upper}.")


def _facet_filter(
    name: str, value: str | Sequence[str] | None, *, allowed: Sequence[str] | None = None
) -> wq.Query | None:
    """Build a case-insensitive filter on one facet; several values mean any of them."""
    if value is None:
        return None
    values = [value] if isinstance(value, str) else list(value)
    terms = []
    for raw in values:
        if not isinstance(raw, str) or not raw.strip():
            raise _invalid(name, f"{name} must be a non-empty text value.")
        if len(raw) > MAX_FACET_VALUE_CHARS:
            raise _invalid(name, f"{name} is longer than {MAX_FACET_VALUE_CHARS} characters.")
        normalised = _facet_value(raw).lower()
        if allowed is not None and normalised not in allowed:
            raise _invalid(name, f"{name} must be one of: {', '.join(allowed)}.")
        terms.append(wq.Term(name, normalised))
    if not terms:
        return None
    return terms[0] if len(terms) == 1 else wq.Or(terms)


def _visibility(viewer: Viewer) -> wq.Query:
    """Show published to everyone; drafts only to their own organisation's authors."""
    published: wq.Query = wq.Term("status", "published")
    own_drafts = [
        wq.And([wq.Term("status", "draft"), wq.Term("organisation_slug", org)])
        for org in viewer.draft_organisations()
    ]
    return wq.Or([published, *own_drafts]) if own_drafts else published


# -- parsing --------------------------------------------------------------------


def _configure(parser: QueryParser) -> QueryParser:
    """Plugins shared by the search parser and the spelling parser."""
    # Boosts (`x^2`) read as noise in code queries; ranges have no field to use.
    parser.remove_plugin_class(BoostPlugin)
    parser.remove_plugin_class(RangePlugin)
    # Field names must start with a letter so "1:2" stays text; unknown names
    # were already rejected in _check_query.
    parser.remove_plugin_class(FieldsPlugin)
    parser.add_plugin(FieldsPlugin(expr=r"(?P<text>[A-Za-z_]\w*):", remove_unknown=True))
    aliases: dict[str, list[str]] = {}
    for alias, target in USER_FIELDS.items():
        if alias != target:
            aliases.setdefault(target, []).append(alias)
    parser.add_plugin(FieldAliasPlugin(aliases))
    parser.add_plugin(PlusMinusPlugin())
    return parser


def _parse(searcher: Searcher, text: str) -> wq.Query:
    parser = _configure(
        MultifieldParser(list(TEXT_FIELD_BOOSTS), searcher.schema, fieldboosts=TEXT_FIELD_BOOSTS)
    )
    # Aliases arrive as typed; map them case-insensitively ("Technique:SANS").
    lowered = _FIELD_PREFIX.sub(lambda m: m.group(1).lower() + ":", text)
    try:
        parsed = parser.parse(lowered)
    except Exception as error:  # noqa: BLE001 - whoosh raises bare errors on odd input
        raise _invalid("q", f"The query could not be read: {error}.") from error
    if isinstance(parsed, type(wq.NullQuery)):
        raise _invalid("q", "The query has no words to search for.")
    return parsed


# -- results ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _SearcherCache:
    """What every query needs and only a commit changes: built once per generation."""

    # Facet name → [(label as written, its documents)].
    facet_docs: dict[str, list[tuple[str, frozenset[int]]]]
    # Every document in catalogue order (courses first, then by course and position).
    browse_order: list[int]
    # Document → its catalogue order key, for breaking ties between equal scores.
    order_key: Any


_CACHES: WeakKeyDictionary[Searcher, _SearcherCache] = WeakKeyDictionary()


def _cache_for(searcher: Searcher) -> _SearcherCache:
    cache = _CACHES.get(searcher)
    if cache is None:
        reader = searcher.reader()
        facet_docs = {
            name: [
                (term.decode("utf-8"), frozenset(reader.postings(f"{name}_label", term).all_ids()))
                for term in reader.lexicon(f"{name}_label")
            ]
            for name in FACETS
        }
        order_key = reader.column_reader("order_key")
        live = [docnum for docnum in range(reader.doc_count_all()) if not reader.is_deleted(docnum)]
        browse_order = sorted(live, key=order_key.__getitem__)
        cache = _CACHES[searcher] = _SearcherCache(facet_docs, browse_order, order_key)
    return cache


def _rank(
    scored: Sequence[tuple[float, int]], order_key: Any, first: int, limit: int
) -> list[tuple[float, int]]:
    """Order by score, ties by catalogue order; return the page `[first:limit]`.

    Scores equal to SCORE_DIGITS decimals tie: deleted-but-unmerged documents
    nudge BM25 statistics in the last digits, and an incrementally updated
    index must order results as a rebuilt one does. Only the page and the
    scores tied with its edges are given sort keys, so deep result lists
    cost nothing extra.
    """
    rounded = sorted(
        ((round(score, SCORE_DIGITS), docnum) for score, docnum in scored),
        key=lambda item: -item[0],
    )
    if not rounded[first:limit]:
        return []
    top, bottom = rounded[first][0], rounded[min(limit, len(rounded)) - 1][0]
    window = [item for item in rounded if bottom <= item[0] <= top]
    before = sum(1 for item in rounded if item[0] > top)
    window.sort(key=lambda item: (-item[0], order_key[item[1]]))
    return window[first - before : limit - before]


def _positive_terms(query: wq.Query, reader: Any) -> dict[str, set[str]]:
    """Terms worth highlighting, by field: prefixes expanded, negated parts left out."""
    terms: dict[str, set[str]] = {}

    def walk(node: wq.Query) -> None:
        if isinstance(node, wq.Not):
            return
        if isinstance(node, wq.AndNot):
            walk(node.a)
            return
        if node.is_leaf():
            for fieldname, text in node.existing_terms(reader, phrases=True, expand=True):
                value = text.decode("utf-8") if isinstance(text, bytes) else text
                terms.setdefault(fieldname, set()).add(value)
            return
        for child in node.children():
            walk(child)

    walk(query)
    return terms


def _hit(
    searcher: Searcher, docnum: int, score: float | None, terms: dict[str, set[str]]
) -> SearchHit:
    stored = searcher.stored_fields(docnum)
    return SearchHit(
        doc_id=stored["doc_id"],
        kind=stored.get("kind_label", ""),
        title=stored.get("title", ""),
        url=stored.get("url", ""),
        course_slug=stored.get("course_slug", ""),
        course_title=stored.get("course_title", ""),
        lesson_id=stored.get("lesson_id"),
        status=stored.get("status", ""),
        techniques=tuple(v for v in stored.get("technique_label", "").split(",") if v),
        facility=stored.get("facility_label", ""),
        level=stored.get("level_label", ""),
        score=score,
        snippet=_snippet(searcher, stored, terms),
    )


def _snippet(searcher: Searcher, stored: dict[str, Any], terms: dict[str, set[str]]) -> str:
    """Cut a window around the first match in the first body field that has one.

    Analyses the text only up to that first match (then the window again to
    mark every match in it), instead of whoosh's highlighter, which
    tokenises the whole stored notebook for every hit.
    """
    for fieldname in SNIPPET_FIELDS:
        wanted = terms.get(fieldname)
        text = stored.get(fieldname) or ""
        if not wanted or not text:
            continue
        analyzer = searcher.schema[fieldname].analyzer
        limited = text[:SNIPPET_CHAR_LIMIT]
        found = next(
            (
                t.startchar
                for t in analyzer(limited, chars=True, removestops=False)
                if t.text in wanted
            ),
            None,
        )
        if found is None:
            continue
        begin = max(0, found - SNIPPET_SURROUND)
        if begin:
            space = text.find(" ", begin, found)
            begin = space + 1 if space != -1 else begin
        end = min(len(text), begin + SNIPPET_CHARS)
        window = text[begin:end]
        marks = [
            (t.startchar, t.endchar)
            for t in analyzer(window, chars=True, removestops=False)
            if t.text in wanted
        ]
        return ("… " if begin else "") + _mark(window, marks) + (" …" if end < len(text) else "")
    plain = stored.get("summary") or stored.get("markdown") or ""
    if len(plain) > SNIPPET_CHARS:
        plain = plain[:SNIPPET_CHARS].rsplit(" ", 1)[0] + " …"
    return html.escape(plain, quote=False)


def _mark(text: str, spans: list[tuple[int, int]]) -> str:
    """HTML-escape `text`, wrapping each span in <mark>; overlaps keep the widest."""
    out: list[str] = []
    position = 0
    for start, end in sorted(spans, key=lambda span: (span[0], -span[1])):
        if start < position:
            continue  # a part inside an identifier already marked whole
        out.append(html.escape(text[position:start], quote=False))
        out.append("<mark>" + html.escape(text[start:end], quote=False) + "</mark>")
        position = end
    out.append(html.escape(text[position:], quote=False))
    return "".join(out)


def _facet_counts(
    facet_docs: dict[str, list[tuple[str, frozenset[int]]]], matched: set[int]
) -> dict[str, list[FacetCount]]:
    """Count each facet value over the matched documents, most frequent first."""
    facets: dict[str, list[FacetCount]] = {}
    for name, values in facet_docs.items():
        counts = [FacetCount(label, len(docs & matched)) for label, docs in values]
        counts = [facet for facet in counts if facet.count]
        counts.sort(key=lambda facet: (-facet.count, facet.value.casefold()))
        facets[name] = counts
    return facets


# -- "did you mean" -----------------------------------------------------------------


class _VocabularyCorrector(Corrector):
    """Suggest the nearest published word, preferring fewer edits, then more documents.

    whoosh's ReaderCorrector ranks by frequency alone, so a common word two
    edits away beats the obvious one-edit fix.
    """

    def __init__(self, reader: Any, fieldname: str) -> None:
        self.reader = reader
        self.fieldname = fieldname

    def _suggestions(self, text: str, maxdist: int, prefix: int) -> Any:
        seen: set[str] = set()
        for distance in range(1, maxdist + 1):
            for word in self.reader.terms_within(self.fieldname, text, distance, prefix=prefix):
                if word in seen or word == text:
                    continue
                seen.add(word)
                frequency = self.reader.doc_frequency(self.fieldname, word)
                # Distance dominates; frequency only breaks ties within it.
                yield (-distance + frequency / (frequency + 1) * 0.9, word)


def _suggest(searcher: Searcher, text: str) -> str | None:
    """Return the query with unknown words replaced by their nearest known word."""
    reader = searcher.reader()
    parser = _configure(QueryParser("words", searcher.schema))
    try:
        words_query = parser.parse(_FIELD_PREFIX.sub(lambda m: m.group(1).lower() + ":", text))
    except Exception:  # noqa: BLE001 - a suggestion is optional; the search itself parsed
        return None
    analyzer = prose_analyzer()
    unknown = []
    for token in words_query.all_tokens():
        if token.fieldname != "words" or token.startchar is None:
            continue
        typed = text[token.startchar : token.endchar]
        # Only plain words are corrected: identifiers and numbers are not typos.
        if typed.lower() != token.text or not typed.isalpha():
            continue
        if _known(reader, analyzer, token.text):
            continue
        unknown.append(("words", token.text))
    if not unknown:
        return None
    corrector = SimpleQueryCorrector(
        {"words": _VocabularyCorrector(reader, "words")}, unknown, prefix=1, maxdist=2
    )
    correction = corrector.correct_query(words_query, text)
    if not correction.tokens or correction.string == text:
        return None
    return correction.string


def _known(reader: Any, analyzer: Any, word: str) -> bool:
    """Whether any document (published or draft, prose or code) has this word."""
    if ("words", word) in reader or ("code", word) in reader:
        return True
    stems = [token.text for token in analyzer(word)]
    return any((fieldname, stem) in reader for stem in stems for fieldname in _STEMMED_FIELDS)

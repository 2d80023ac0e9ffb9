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
import logging
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

import numpy as np
from whoosh import query as wq
from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.matching.wrappers import FilterMatcher
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
from panlearn.search.bulk import SegmentPostings, TermPostings
from panlearn.search.documents import KINDS, Viewer
from panlearn.search.index import Index
from panlearn.search.plaintext import formula_window, plain_text
from panlearn.search.schema import (
    FACETS,
    TEXT_FIELD_BOOSTS,
    USER_FIELDS,
    _facet_value,
)
from panlearn.search.synonyms import Synonyms

log = logging.getLogger(__name__)

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
# The lesson text first: a lesson's summary is only its module's title.
SNIPPET_FIELDS: tuple[str, ...] = ("markdown", "summary", "code")
# whoosh's default weighting (BM25F) and its parameters, for vectorised scoring.
BM25_B = 0.75
BM25_K1 = 1.2
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
    synonyms: Synonyms | None = None,
) -> SearchResult:
    """Search what `viewer` may see; an empty `q` lists everything, for browsing.

    `q` supports words (all must match), `"phrases"`, prefixes (`diffract*`),
    field queries (`technique:SANS`, `title:bragg`), `OR`, `NOT`, `-word` and
    parentheses. Facet filters take one value or several (any of them
    matches) and ignore case. Facet counts are over the filtered query.
    `synonyms` lets technique and facility filters and field queries take
    short names (`technique:SANS`, `facility="PSI"`).

    Raises `InvalidInputError` for bad syntax or parameters.
    """
    text = _check_query(q)
    _check_paging(page, per_page)
    synonyms = synonyms or Synonyms()
    technique = synonyms.expand_filter("technique", technique)
    facility = synonyms.expand_filter("facility", facility)
    filters = [
        _facet_filter("technique", technique),
        _facet_filter("facility", facility),
        _facet_filter("level", level),
        _facet_filter("kind", kind, allowed=KINDS),
    ]
    filter_query = wq.And([_visibility(viewer), *(f for f in filters if f is not None)])

    with index.searcher() as searcher:
        cache = _cache_for(searcher, index.path)
        cache.new_query()
        # Which documents match, as one boolean per document, from the posting
        # lists in bulk: the exact total and facet counts, without scoring.
        allowed = cache.docset(filter_query)
        first, limit = (page - 1) * per_page, page * per_page
        if text:
            user_query = synonyms.expand_query(_parse(searcher, text))
            matched = cache.docset(user_query) & allowed
            total = int(np.count_nonzero(matched))
            # Only the page is scored and ranked (see _top).
            page_docs = _top(searcher, cache, user_query, matched, total, first, limit)
            terms = _positive_terms(user_query, searcher.reader()) if page_docs else {}
            holders = {
                name: cache.holders(name, terms[name]) for name in SNIPPET_FIELDS if terms.get(name)
            }
        else:
            matched = allowed
            total = int(np.count_nonzero(matched))
            browse = cache.browse_order
            page_docs = [(None, int(d)) for d in browse[matched[browse]][first:limit]]
            terms, holders = {}, {}
        hits = [
            _hit(searcher, docnum, score, terms, [n for n, docs in holders.items() if docs[docnum]])
            for score, docnum in page_docs
        ]
        facets = _facet_counts(cache.facet_docs, matched)
        suggestion = _suggest(searcher, text) if text else None

    return SearchResult(
        query=text,
        hits=hits,
        total=total,
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


# Parsers by searcher: building one compiles a few dozen regular expressions,
# more than parsing a query costs. Searchers are per thread (Index.searcher),
# so a parser is never shared between threads.
_PARSERS: WeakKeyDictionary[Searcher, dict[str, QueryParser]] = WeakKeyDictionary()


def _parser(searcher: Searcher, kind: str) -> QueryParser:
    """The search parser (`kind` "search") or the spelling parser ("words")."""
    schema = searcher.schema
    parsers = _PARSERS.setdefault(searcher, {})
    parser = parsers.get(kind)
    if parser is None:
        if kind == "search":
            parser = MultifieldParser(
                list(TEXT_FIELD_BOOSTS), schema, fieldboosts=TEXT_FIELD_BOOSTS
            )
        else:
            parser = QueryParser("words", schema)
        parser = parsers[kind] = _configure(parser)
    return parser


def _parse(searcher: Searcher, text: str) -> wq.Query:
    parser = _parser(searcher, "search")
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


class _SearcherCache:
    """What every query needs and only a commit changes: built once per generation.

    Document sets are numpy boolean arrays over the searcher's document
    numbers. `docset` evaluates a query's boolean structure on them, reading
    each term's posting list in bulk; it is what gives search its exact
    totals and facet counts without scoring every match.
    """

    # Filter terms (status, organisation, facet values) recur in every request.
    FILTER_FIELDS = frozenset({"status", "organisation_slug", *FACETS})
    FILTER_CACHE_SIZE = 512

    def __init__(self, searcher: Searcher, folder: Path) -> None:
        self.searcher = searcher
        reader = searcher.reader()
        self.size = reader.doc_count_all()
        self.leaves: list[tuple[Any, int]] = [
            (leaf.reader(), offset) for leaf, offset in searcher.leaf_searchers()
        ]
        # Each segment's numpy postings file (bulk.py); None for a segment written
        # without one, whose posting lists are then decoded from whoosh's blocks.
        self.bulk: list[SegmentPostings | None] = [
            SegmentPostings.open(folder, leaf.segment()) for leaf, _ in self.leaves
        ]
        missing = sum(
            1
            for (leaf, _), bulk in zip(self.leaves, self.bulk, strict=True)
            if bulk is None and leaf.doc_count_all()
        )
        if missing:
            log.warning(
                "search index at %s: %d segment(s) written without a postings file are "
                "searched the slow way; `flask search rebuild` gives them one",
                folder,
                missing,
            )
        live = np.ones(self.size, dtype=bool)
        for leaf, offset in self.leaves:
            if leaf.has_deletions():
                live[offset : offset + leaf.doc_count_all()] = False
                live[np.fromiter(leaf.all_doc_ids(), dtype=np.int64) + offset] = True
        self.live = live
        self._filter_sets: dict[tuple[str, bytes], np.ndarray] = {}
        # Phrase matches of the current query, for both matching and scoring.
        self._phrases: dict[tuple[str, tuple[str, ...], int], np.ndarray] = {}
        self._lengths: dict[str, np.ndarray] = {}
        # Facet name → [(label as written, its documents)].
        self.facet_docs: dict[str, list[tuple[str, np.ndarray]]] = {
            name: [
                (term.decode("utf-8"), self.term_docs(f"{name}_label", term))
                for term in reader.lexicon(f"{name}_label")
            ]
            for name in FACETS
        }
        live_docs = np.flatnonzero(live).tolist()
        if live_docs:  # an empty index (new, or just recreated) has no columns to read
            live_docs.sort(key=reader.column_reader("order_key").__getitem__)
        # Every document in catalogue order (courses first, then by course and position).
        self.browse_order = np.array(live_docs, dtype=np.int64)
        # Document → its place in that order (deleted documents last), for ranking ties.
        self.rank = np.full(self.size, self.size, dtype=np.int64)
        self.rank[self.browse_order] = np.arange(len(self.browse_order))

    def term_docs(self, fieldname: str, text: str | bytes) -> np.ndarray:
        """The live documents holding one term."""
        btext = text if isinstance(text, bytes) else text.encode("utf-8")
        key = (fieldname, btext)
        cached = self._filter_sets.get(key)
        if cached is not None:
            return cached
        docs = np.zeros(self.size, dtype=bool)
        for ids, _ in self.postings(fieldname, btext, weights=False):
            docs[ids] = True
        docs &= self.live
        if fieldname in self.FILTER_FIELDS:
            if len(self._filter_sets) >= self.FILTER_CACHE_SIZE:
                self._filter_sets.clear()
            self._filter_sets[key] = docs
        return docs

    def new_query(self) -> None:
        """Forget the last query's phrase matches (only filters are kept between queries)."""
        self._phrases.clear()

    def postings(
        self, fieldname: str, btext: bytes, *, weights: bool = True
    ) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        """A term's document numbers (in the searcher) and weights, segment by segment.

        From the segments' postings files when they have one; otherwise
        decoded from whoosh's blocks (weights only when asked for).
        """
        for (leaf, offset), bulk in zip(self.leaves, self.bulk, strict=True):
            if bulk is not None and bulk.has_field(fieldname):
                found = bulk.term(fieldname, btext)
                if found is not None:
                    yield found.ids.astype(np.int64) + offset, found.weights
            elif (fieldname, btext) in leaf:
                matcher = leaf.postings(fieldname, btext)
                if weights:
                    ids, term_weights = _posting_ids_weights(matcher)
                    yield ids + offset, term_weights
                else:
                    yield _posting_ids(matcher) + offset, None

    def holders(self, fieldname: str, terms: set[str]) -> np.ndarray:
        """The documents holding any of `terms` in one field (where a snippet can be cut)."""
        docs = np.zeros(self.size, dtype=bool)
        for term in terms:
            for ids, _ in self.postings(fieldname, term.encode("utf-8"), weights=False):
                docs[ids] = True
        return docs

    def docset(self, query: wq.Query) -> np.ndarray:
        """The live documents `query` matches, as whoosh would match them."""
        if isinstance(query, wq.Term):
            return self.term_docs(query.fieldname, query.text)
        if isinstance(query, (wq.And, wq.Or)) and not getattr(query, "minmatch", 0):
            children = [self.docset(child) for child in query.subqueries]
            if not children:
                return np.zeros(self.size, dtype=bool)
            combined = children[0].copy()
            for child in children[1:]:
                if isinstance(query, wq.And):
                    combined &= child
                else:
                    combined |= child
            return combined
        if isinstance(query, wq.AndNot):
            return self.docset(query.a) & ~self.docset(query.b)
        if isinstance(query, wq.AndMaybe):
            return self.docset(query.a)
        if isinstance(query, wq.Require):
            return self.docset(query.a) & self.docset(query.b)
        if isinstance(query, wq.Not):
            return self.live & ~self.docset(query.query)
        if isinstance(query, wq.Every) and not query.fieldname:
            return self.live.copy()
        if isinstance(query, wq.NullQuery.__class__):
            return np.zeros(self.size, dtype=bool)
        if isinstance(query, wq.MultiTerm):  # prefixes, wildcards
            docs = np.zeros(self.size, dtype=bool)
            for fieldname, text in query.expanded_terms(self.searcher.reader()):
                docs |= self.term_docs(fieldname, text)
            return docs
        if isinstance(query, wq.Phrase):
            found = self.phrase_docs(query)
            if found is not None:
                return found
        # Anything else (phrases with a slop...): whoosh's own matcher.
        docs = np.zeros(self.size, dtype=bool)
        found = np.fromiter(self.searcher.docs_for_query(query), dtype=np.int64)
        docs[found] = True
        return docs & self.live

    def phrase_docs(self, phrase: wq.Phrase) -> np.ndarray | None:
        """The live documents holding the phrase's words at consecutive positions.

        Matches what whoosh's phrase matcher finds (slop 1: word i at the
        first word's position + i), but over whole position arrays with numpy
        instead of document by document. None when it cannot: a slop other
        than 1, or a segment without a postings file.
        """
        key = (phrase.fieldname, tuple(phrase.words), phrase.slop)
        cached = self._phrases.get(key)
        if cached is not None:
            return cached
        schema = self.searcher.schema
        if phrase.slop != 1 or phrase.fieldname not in schema or None in self.bulk:
            return None
        field = schema[phrase.fieldname]
        words = [field.to_bytes(word) for word in phrase.words]
        docs = np.zeros(self.size, dtype=bool)
        for (_, offset), bulk in zip(self.leaves, self.bulk, strict=True):
            postings = [bulk.term(phrase.fieldname, word) for word in words]  # type: ignore[union-attr]
            if not postings or any(p is None or p.positions is None for p in postings):
                continue
            docs[_phrase_matches(postings) + offset] = True  # type: ignore[arg-type]
        docs &= self.live
        self._phrases[key] = docs
        return docs

    # -- scoring ---------------------------------------------------------------

    def field_lengths(self, fieldname: str) -> np.ndarray:
        """Every document's length in one field, as whoosh's BM25F reads it (quantised)."""
        lengths = self._lengths.get(fieldname)
        if lengths is None:
            lengths = np.ones(self.size, dtype=np.float64)
            for leaf, offset in self.leaves:
                for docnum in range(leaf.doc_count_all()):
                    lengths[offset + docnum] = leaf.doc_field_length(docnum, fieldname, 1) or 1
            self._lengths[fieldname] = lengths
        return lengths

    def scores(self, query: wq.Query) -> np.ndarray | None:
        """BM25F scores of every document for `query`, as whoosh computes them.

        For queries of terms joined by AND, OR and AND NOT (what a plain query
        parses to), whoosh's score of a match is the sum, over the positive
        terms it holds, of `bm25(idf, weight, field length) * boost`; here
        that sum is taken over whole posting lists with numpy instead of
        per document in Python. None for anything else (phrases, prefixes),
        which whoosh then scores itself.
        """
        if isinstance(query, wq.Term):
            return self._term_scores(query)
        if isinstance(query, (wq.And, wq.Or)):
            if getattr(query, "minmatch", 0) or getattr(query, "scale", None) or query.boost != 1:
                return None
            total = np.zeros(self.size, dtype=np.float64)
            for child in query.subqueries:
                child_scores = self.scores(child)
                if child_scores is None:
                    return None
                total += child_scores
            return total
        if isinstance(query, wq.AndNot):
            return self.scores(query.a)
        if isinstance(query, wq.Phrase):
            return self._phrase_scores(query)
        if isinstance(query, wq.Not):  # whoosh's InverseMatcher scores every match 1.0
            return np.ones(self.size, dtype=np.float64)
        return None

    def _phrase_scores(self, phrase: wq.Phrase) -> np.ndarray | None:
        """Whoosh's phrase score: the sum of its words' BM25F scores, times its boost.

        (whoosh scores a phrase match as the intersection of its terms.) Zero
        where the phrase does not occur, so an OR of phrases adds up right.
        """
        matches = self.phrase_docs(phrase)
        if matches is None:
            return None
        total = np.zeros(self.size, dtype=np.float64)
        for word in phrase.words:
            word_scores = self._term_scores(wq.Term(phrase.fieldname, word))
            if word_scores is None:
                return None
            total += word_scores
        total[~matches] = 0.0
        return total * phrase.boost

    def _term_scores(self, term: wq.Term) -> np.ndarray | None:
        fieldname = term.fieldname
        btext = term.text if isinstance(term.text, bytes) else term.text.encode("utf-8")
        scores = np.zeros(self.size, dtype=np.float64)
        field = self.searcher.schema[fieldname] if fieldname in self.searcher.schema else None
        if field is None or not field.scorable:
            return None
        if (fieldname, btext) not in self.searcher.reader():
            return scores
        text = term.text if isinstance(term.text, str) else term.text.decode("utf-8")
        idf = self.searcher.idf(fieldname, text)
        avgfl = self.searcher.avg_field_length(fieldname) or 1
        lengths = self.field_lengths(fieldname)
        for ids, weights in self.postings(fieldname, btext):
            tf = weights.astype(np.float64)  # type: ignore[union-attr]
            fl = lengths[ids]
            norm = (1 - BM25_B) + BM25_B * fl / avgfl
            scores[ids] = idf * ((tf * (BM25_K1 + 1)) / (tf + BM25_K1 * norm))
        scores[~self.live] = 0.0
        return scores * term.boost


def _posting_ids_weights(matcher: Any) -> tuple[np.ndarray, np.ndarray]:
    """Document numbers and weights (term frequencies) of a posting list, in bulk."""
    if isinstance(matcher, FilterMatcher):
        matcher = matcher.child
    ids: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    if isinstance(matcher, W3LeafMatcher) and not matcher._byteids:
        while matcher.is_active():
            if matcher._data is None:
                matcher._read_data()
            if matcher._weights is None:
                matcher._read_weights()
            ids.append(np.cumsum(np.asarray(matcher._data[0], dtype=np.int64)))
            weights.append(np.asarray(matcher._weights, dtype=np.float64))
            matcher._next_block()
    else:
        pairs = []
        while matcher.is_active():
            pairs.append((matcher.id(), matcher.weight()))
            matcher.next()
        if pairs:
            ids.append(np.array([p[0] for p in pairs], dtype=np.int64))
            weights.append(np.array([p[1] for p in pairs], dtype=np.float64))
    if not ids:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    return np.concatenate(ids), np.concatenate(weights)


def _posting_ids(matcher: Any) -> np.ndarray:
    """Every document number in a posting list, decoded a block at a time.

    whoosh's matchers step one posting at a time in Python; the block
    format (whoosh3: delta-coded ids, 128 per block) decodes much faster in
    bulk. Falls back to stepping for any other matcher.
    """
    if isinstance(matcher, FilterMatcher):  # deletions: masked by `live` instead
        matcher = matcher.child
    if isinstance(matcher, W3LeafMatcher) and not matcher._byteids:
        chunks = []
        while matcher.is_active():
            if matcher._data is None:
                matcher._read_data()
            chunks.append(np.cumsum(np.asarray(matcher._data[0], dtype=np.int64)))
            matcher._next_block()
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64)
    return np.fromiter(matcher.all_ids(), dtype=np.int64)


_CACHES: WeakKeyDictionary[Searcher, _SearcherCache] = WeakKeyDictionary()


def _cache_for(searcher: Searcher, folder: Path) -> _SearcherCache:
    cache = _CACHES.get(searcher)
    if cache is None:
        cache = _CACHES[searcher] = _SearcherCache(searcher, folder)
    return cache


def _phrase_matches(postings: list[TermPostings]) -> np.ndarray:
    """Segment document numbers where word i occurs at some start position + i.

    Each word's occurrences in the documents holding every word become
    `(document, position - i)` keys; a phrase starts wherever all words share
    a key.
    """
    candidates = postings[0].ids
    for other in postings[1:]:
        candidates = np.intersect1d(candidates, other.ids, assume_unique=True)
    if not len(candidates):
        return np.zeros(0, dtype=np.int64)
    starts: np.ndarray | None = None
    for i, term in enumerate(postings):
        docs, positions = _occurrences(term, candidates)
        keep = positions >= i
        keys = (docs[keep] << 32) | (positions[keep] - i)
        starts = keys if starts is None else np.intersect1d(starts, keys, assume_unique=True)
        if not len(starts):
            break
    assert starts is not None
    return np.unique(starts >> 32)


def _occurrences(term: TermPostings, docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every `(document, position)` of a term in `docs` (all of which hold it), flattened."""
    assert term.pstarts is not None and term.positions is not None
    rows = np.searchsorted(term.ids, docs)
    begins = term.pstarts[rows].astype(np.int64)
    counts = term.pstarts[rows + 1].astype(np.int64) - begins
    # Index of each occurrence in `positions`: its run's begin + its rank in the run.
    ends = np.cumsum(counts)
    flat = np.arange(int(ends[-1])) + np.repeat(begins - (ends - counts), counts)
    return (
        np.repeat(docs.astype(np.int64), counts),
        term.positions[flat].astype(np.int64),
    )


def _top(
    searcher: Searcher,
    cache: _SearcherCache,
    query: wq.Query,
    matched: np.ndarray,
    total: int,
    first: int,
    limit: int,
) -> list[tuple[float, int]]:
    """Score the best matches, enough to rank the page `[first:limit]` exactly.

    whoosh's top-N collector skips blocks of postings that cannot reach the
    current N-th score. Scores tied (to SCORE_DIGITS) with the page's last
    one must all be seen, since ties go to catalogue order: when the N-th
    score still ties with the page's last, N grows and the search runs again.
    """
    if not total or first >= total:
        return []
    scores = cache.scores(query)
    if scores is not None:
        candidates = np.flatnonzero(matched)
        rounded = np.round(scores[candidates], SCORE_DIGITS)
        if len(candidates) > limit:
            # Everything tied with the page's last score comes along.
            bottom = np.partition(rounded, len(rounded) - limit)[len(rounded) - limit]
            keep = rounded >= bottom
            candidates, rounded = candidates[keep], rounded[keep]
        # Best score first; ties in catalogue order.
        order = np.lexsort((cache.rank[candidates], -rounded))
        return [(float(scores[docnum]), int(docnum)) for docnum in candidates[order[first:limit]]]
    allow = set(np.flatnonzero(matched).tolist())
    wanted = min(total, max(limit * 2, limit + 10))
    while True:
        top = searcher.search(query, filter=allow, limit=wanted).top_n
        if len(top) >= total or len(top) < wanted:
            break
        page_bottom = sorted(round(score, SCORE_DIGITS) for score, _ in top)[
            len(top) - min(limit, len(top))
        ]
        if round(top[-1][0], SCORE_DIGITS) < page_bottom:
            break
        wanted = min(total, wanted * 4)
    return _rank(top, cache.rank, first, limit)


def _rank(
    scored: Sequence[tuple[float, int]], rank: np.ndarray, first: int, limit: int
) -> list[tuple[float, int]]:
    """Order by score, ties by catalogue order; return the page `[first:limit]`.

    Scores equal to SCORE_DIGITS decimals tie: deleted-but-unmerged documents
    nudge BM25 statistics in the last digits, and an incrementally updated
    index must order results as a rebuilt one does. Only the page and the
    scores tied with its edges are given sort keys.
    """
    rounded = sorted(
        ((round(score, SCORE_DIGITS), docnum, score) for score, docnum in scored),
        key=lambda item: -item[0],
    )
    if not rounded[first:limit]:
        return []
    top, bottom = rounded[first][0], rounded[min(limit, len(rounded)) - 1][0]
    window = [item for item in rounded if bottom <= item[0] <= top]
    before = sum(1 for item in rounded if item[0] > top)
    window.sort(key=lambda item: (-item[0], int(rank[item[1]])))
    return [(score, docnum) for _, docnum, score in window[first - before : limit - before]]


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
    searcher: Searcher,
    docnum: int,
    score: float | None,
    terms: dict[str, set[str]],
    snippet_fields: list[str],
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
        snippet=_snippet(searcher, stored, terms, snippet_fields),
    )


def _snippet(
    searcher: Searcher, stored: dict[str, Any], terms: dict[str, set[str]], fields: list[str]
) -> str:
    """Cut a window around the first match in the first body field that has one.

    Analyses the text only up to that first match (then the window again to
    mark every match in it), instead of whoosh's highlighter, which
    tokenises the whole stored notebook for every hit; and with the fields'
    one-pass `spans` rather than their analyzers' token-by-token chain.
    `fields` are the body fields (in SNIPPET_FIELDS order) that the postings
    say hold a match: a field without one is never scanned end to end.
    """
    for fieldname in fields:
        wanted = terms.get(fieldname)
        raw = stored.get(fieldname) or ""
        if not wanted or not raw:
            continue
        spans = searcher.schema[fieldname].spans
        limited = raw[:SNIPPET_CHAR_LIMIT]
        first = next((start for term, start, _ in spans(limited) if term in wanted), None)
        if first is None:
            continue
        # Snippets are read, not parsed: a window around the first match (from its
        # paragraph's start when that is near, so a formula is whole) becomes plain
        # text, then is cut again around the match.
        low = max(limited.rfind("\n\n", 0, first) + 1, first - 3 * SNIPPET_SURROUND, 0)
        high = min(len(limited), first + 2 * SNIPPET_CHARS)
        if fieldname != "code":
            low, high = formula_window(limited, low, high)
        text = plain_text(limited[low:high], code=fieldname == "code")
        found = next((start for term, start, _ in spans(text) if term in wanted), 0)
        begin = max(0, found - SNIPPET_SURROUND)
        if begin:
            space = text.find(" ", begin, found)
            begin = space + 1 if space != -1 else begin
        end = min(len(text), begin + SNIPPET_CHARS)
        window = text[begin:end]
        marks = [(start, end) for term, start, end in spans(window) if term in wanted]
        more = end < len(text) or high < len(raw)
        return ("… " if begin or low else "") + _mark(window, marks) + (" …" if more else "")
    raw = stored.get("summary") or stored.get("markdown") or ""
    plain = plain_text(raw[: 2 * SNIPPET_CHARS])
    if len(plain) > SNIPPET_CHARS or len(raw) > 2 * SNIPPET_CHARS:
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
    facet_docs: dict[str, list[tuple[str, np.ndarray]]], matched: np.ndarray
) -> dict[str, list[FacetCount]]:
    """Count each facet value over the matched documents, most frequent first."""
    facets: dict[str, list[FacetCount]] = {}
    for name, values in facet_docs.items():
        counts = [
            FacetCount(label, int(np.count_nonzero(docs & matched))) for label, docs in values
        ]
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
    parser = _parser(searcher, "words")
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

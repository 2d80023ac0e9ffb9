"""From checked user input to whoosh queries: the text query, facet filters, visibility."""

from __future__ import annotations

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

from panlearn.search.documents import Viewer
from panlearn.search.schema import TEXT_FIELD_BOOSTS, USER_FIELDS
from panlearn.search.validation import FIELD_PREFIX, invalid


def _configure(parser: QueryParser) -> QueryParser:
    """Plugins shared by the search parser and the spelling parser."""
    # Boosts (`x^2`) read as noise in code queries; ranges have no field to use.
    parser.remove_plugin_class(BoostPlugin)
    parser.remove_plugin_class(RangePlugin)
    # Field names must start with a letter so "1:2" stays text; unknown names
    # were already rejected by `validation.check_query`.
    parser.remove_plugin_class(FieldsPlugin)
    parser.add_plugin(FieldsPlugin(expr=r"(?P<text>[A-Za-z_]\w*):", remove_unknown=True))
    aliases: dict[str, list[str]] = {}
    for alias, target in USER_FIELDS.items():
        if alias != target:
            aliases.setdefault(target, []).append(alias)
    parser.add_plugin(FieldAliasPlugin(aliases))
    # `+word` and `-word` only at a word's start: whoosh's default reads the
    # hyphen in "AND-gate" or "pan-training.eu" as "NOT gate".
    parser.add_plugin(PlusMinusPlugin(plusexpr=r"(?<![^\s(])\+", minusexpr=r"(?<![^\s(])-"))
    return parser


# Parsers by searcher: building one compiles a few dozen regular expressions,
# more than parsing a query costs. Searchers are per thread (Index.searcher),
# so a parser is never shared between threads.
_PARSERS: WeakKeyDictionary[Searcher, dict[str, QueryParser]] = WeakKeyDictionary()


def parser_for(searcher: Searcher, kind: str) -> QueryParser:
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


def lower_field_names(text: str) -> str:
    """Field aliases arrive as typed; map them case-insensitively ("Technique:SANS")."""
    return FIELD_PREFIX.sub(lambda m: m.group(1).lower() + ":", text)


def parse_query(searcher: Searcher, text: str) -> wq.Query:
    """Parse a query that `validation.check_query` accepted."""
    parser = parser_for(searcher, "search")
    try:
        parsed = parser.parse(lower_field_names(text))
    except Exception as error:  # noqa: BLE001 - whoosh raises bare errors on odd input
        raise invalid("q", f"The query could not be read: {error}.") from error
    if isinstance(parsed, type(wq.NullQuery)):
        raise invalid("q", "The query has no words to search for.")
    return parsed


def facet_filter(name: str, terms: list[str]) -> wq.Query | None:
    """A filter on one facet: any of `terms` (from `validation.check_facet_values`)."""
    if not terms:
        return None
    queries = [wq.Term(name, term) for term in terms]
    return queries[0] if len(queries) == 1 else wq.Or(queries)


def visibility_filter(viewer: Viewer) -> wq.Query:
    """Show published to everyone; drafts only to their own organisation's authors."""
    published: wq.Query = wq.Term("status", "published")
    own_drafts = [
        wq.And([wq.Term("status", "draft"), wq.Term("organisation_slug", org)])
        for org in viewer.draft_organisations()
    ]
    return wq.Or([published, *own_drafts]) if own_drafts else published

"""Snippets: a window of plain text around the first match, matches in `<mark>`."""

from __future__ import annotations

import html
from typing import Any

from whoosh import query as wq
from whoosh.searching import Searcher

from panlearn.search.plaintext import formula_window, plain_text

# Fragment length, context either side of a match, and how much of a long
# notebook is re-tokenised to find them (a bound on highlighting cost).
SNIPPET_CHARS = 240
SNIPPET_SURROUND = 60
SNIPPET_CHAR_LIMIT = 20_000
# The lesson text first: a lesson's summary is only its module's title.
SNIPPET_FIELDS: tuple[str, ...] = ("markdown", "summary", "code")


def positive_terms(query: wq.Query, reader: Any) -> dict[str, set[str]]:
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


def snippet(
    searcher: Searcher, stored: dict[str, Any], terms: dict[str, set[str]], fields: list[str]
) -> str:
    """Cut a window around the first match in the first body field that has one; safe HTML.

    Analyses the text only up to that first match (then the window again to
    mark every match in it), instead of whoosh's highlighter, which
    tokenises the whole stored notebook for every hit; and with the fields'
    one-pass `spans` rather than their analyzers' token-by-token chain.
    `fields` are the body fields (in SNIPPET_FIELDS order) that the postings
    say hold a match: a field without one is never scanned end to end.
    Without a match, the start of the summary (or the text).
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

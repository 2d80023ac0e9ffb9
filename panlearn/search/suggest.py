"""Spelling suggestions ("did you mean"): unknown words replaced by the nearest known one."""

from __future__ import annotations

from typing import Any

from whoosh.searching import Searcher
from whoosh.spelling import Corrector, SimpleQueryCorrector

from panlearn.search.analysis import prose_analyzer
from panlearn.search.parsing import lower_field_names, parser_for

# Fields whose lexicons decide whether a query word exists in the index at all.
_STEMMED_FIELDS: tuple[str, ...] = ("title", "summary", "markdown", "keywords")


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


def suggest(searcher: Searcher, text: str) -> str | None:
    """Return the query with unknown words replaced by their nearest known word."""
    reader = searcher.reader()
    parser = parser_for(searcher, "words")
    try:
        words_query = parser.parse(lower_field_names(text))
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

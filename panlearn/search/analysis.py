"""Text analysis for the search index: English prose and Python identifiers.

Prose is stemmed so that `scattering` finds `scattered`. Code is not: students
search for the names they type (`h5py.File`, `two_theta`, `NXdata`), so each
identifier is indexed whole and by its parts (dotted, snake_case and CamelCase
pieces), all at the identifier's position so phrases such as
`"import h5py"` still work. At query time only the whole word is kept: it
matches either an indexed whole identifier or an indexed part.

The classes here are pickled into the index's table of contents by whoosh, so
they must stay importable under this module path; renaming them makes
`Index.open_or_create` treat the index as stale and recreate it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

from whoosh.analysis import (
    STOP_WORDS,
    Filter,
    LowercaseFilter,
    RegexTokenizer,
    StemmingAnalyzer,
    Token,
)
from whoosh.analysis.analyzers import CompositeAnalyzer
from whoosh.lang.porter import stem as porter_stem

# A dotted identifier (`np.linalg.norm`, `h5py.File`) or a number; digits stay
# inside identifiers so `h5py` and `float64` are not torn apart.
CODE_TOKEN_PATTERN = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*|\d+(?:\.\d+)?"

# The whoosh default word pattern, which keeps `two_theta` and `h5py.File`
# whole in prose too (the code field then supplies their parts).
PROSE_TOKEN_PATTERN = r"\w+(\.?\w+)*"

# NeXus base classes (NXdata, NXentry, NXsample) read as `NX` + a lowercase word;
# the generic acronym rule would split them as `N` + `Xdata`.
_NEXUS_CLASS = re.compile(r"^(NX)([a-z][a-z0-9]*)$")
# lower→Upper (`twoTheta`) and ACRONYM→Word (`HTTPServer` → `HTTP`, `Server`).
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


@lru_cache(maxsize=100_000)
def identifier_parts(word: str) -> tuple[tuple[str, int, int], ...]:
    """Split an identifier into `(part, start, end)` pieces, without the whole.

    Splits on dots, then underscores, then case transitions; every piece is
    returned once, so `data.data` does not double-count `data`. Offsets are
    relative to `word` so highlighting can mark the matched piece. Cached:
    notebooks repeat the same names (`np`, `plt`, `two_theta`) thousands of
    times, and splitting was a third of the indexing time.
    """
    seen: set[str] = set()
    parts: list[tuple[str, int, int]] = []

    def add(text: str, start: int) -> None:
        if text and text != word and text not in seen:
            seen.add(text)
            parts.append((text, start, start + len(text)))

    for dotted in re.finditer(r"[^.]+", word):
        add(dotted.group(), dotted.start())
        for snake in re.finditer(r"[^_]+", dotted.group()):
            snake_start = dotted.start() + snake.start()
            add(snake.group(), snake_start)
            nexus = _NEXUS_CLASS.match(snake.group())
            if nexus:
                add(nexus.group(1), snake_start)
                add(nexus.group(2), snake_start + 2)
                continue
            pieces = _CAMEL_BOUNDARY.split(snake.group())
            if len(pieces) > 1:
                offset = snake_start
                for piece in pieces:
                    add(piece, offset)
                    offset += len(piece)
    return tuple(parts)


class IdentifierPartsFilter(Filter):
    """At index time, add the parts of each identifier at the same position.

    At query time it passes the word through unchanged: the whole query word
    then matches an indexed whole identifier or an indexed part, which is what
    makes `theta`, `two_theta` and `TwoTheta` all find `two_theta`.
    """

    is_morph = False

    def __eq__(self, other: object) -> bool:
        return other.__class__ is self.__class__

    def __hash__(self) -> int:
        return hash(self.__class__)

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:
        """Yield each token, followed at index time by its parts."""
        for token in tokens:
            # Read the token before yielding it: later filters (lowercasing)
            # rewrite the same reused Token object in place.
            whole = token.text
            chars = bool(getattr(token, "chars", False))
            base = token.startchar if chars else 0
            expand = token.mode != "query" and not token.stopped and not whole[0].isdigit()
            yield token
            if not expand:
                continue
            for text, start, end in identifier_parts(whole):
                token.text = text
                if chars:
                    token.startchar = base + start
                    token.endchar = base + end
                yield token


def code_analyzer() -> CompositeAnalyzer:
    """Analyzer for notebook code: identifiers whole and by parts, lowercased, unstemmed."""
    return RegexTokenizer(CODE_TOKEN_PATTERN) | IdentifierPartsFilter() | LowercaseFilter()


def prose_analyzer() -> CompositeAnalyzer:
    """Analyzer for English prose: lowercased, stop words dropped, Porter2-stemmed."""
    return StemmingAnalyzer(expression=PROSE_TOKEN_PATTERN)


def word_analyzer() -> CompositeAnalyzer:
    """Analyzer for the spelling vocabulary: real words as written, lowercased, unstemmed.

    Suggestions must be words a person would type, never stems like `scatter`
    for `scattering`; numbers and one-letter tokens are useless as suggestions.
    """
    return RegexTokenizer(r"[^\W\d_]{2,}") | LowercaseFilter()


# -- index-time fast paths ---------------------------------------------------------
#
# whoosh analyses a field by pulling one reused Token through a chain of
# generators (tokenizer, lowercase, stop words, stemmer), then groups the
# tokens by text. For notebooks that chain was most of the indexing time.
# The functions below compute the same terms and positions in one loop; the
# schema's fields use them when indexing (`schema.ProseField.index`), while
# queries and snippets still go through the analyzers above. A unit test
# checks that both give identical postings on the shipped notebooks.

_PROSE_WORD = re.compile(r"\w+(?:\.?\w+)*")  # PROSE_TOKEN_PATTERN, without the capture group
_CODE_WORD = re.compile(CODE_TOKEN_PATTERN)
_STEMS: dict[str, str] = {}
_STEM_CACHE_LIMIT = 200_000


def _stem(word: str) -> str:
    stemmed = _STEMS.get(word)
    if stemmed is None:
        if len(_STEMS) >= _STEM_CACHE_LIMIT:
            _STEMS.clear()
        stemmed = _STEMS[word] = porter_stem(word)
    return stemmed


def prose_positions(text: str) -> dict[str, list[int]]:
    """Term → positions, as `prose_analyzer()` yields them at index time.

    Lowercased, words shorter than two letters and stop words dropped (the
    positions of the rest renumbered from the first kept word, as whoosh's
    StopFilter does), Porter-stemmed.
    """
    positions: dict[str, list[int]] = {}
    stops = STOP_WORDS
    stem = _STEMS.get
    pos = -1
    first = True
    for index, word in enumerate(_PROSE_WORD.findall(text)):
        word = word.lower()
        if len(word) < 2 or word in stops:
            continue
        if first:
            pos, first = index, False
        else:
            pos += 1
        term = stem(word) or _stem(word)
        found = positions.get(term)
        if found is None:
            positions[term] = [pos]
        else:
            found.append(pos)
    return positions


@lru_cache(maxsize=100_000)
def _code_terms(word: str) -> tuple[str, ...]:
    """An identifier's index terms: itself and its parts, lowercased, in analyzer order."""
    if word[0].isdigit():
        return (word.lower(),)
    return (word.lower(), *(part.lower() for part, _, _ in identifier_parts(word)))


def code_positions(text: str) -> dict[str, list[int]]:
    """Term → positions, as `code_analyzer()` yields them at index time."""
    positions: dict[str, list[int]] = {}
    for index, word in enumerate(_CODE_WORD.findall(text)):
        for term in _code_terms(word):
            found = positions.get(term)
            if found is None:
                positions[term] = [index]
            else:
                found.append(index)
    return positions


# -- query-time fast paths: character spans for snippets ---------------------------
#
# Snippets need each token's text and characters, as the analyzers give them
# with `chars=True, removestops=False` (stop words kept, unstemmed). Going
# through whoosh's filter chain token by token cost milliseconds per hit.


def prose_spans(text: str) -> Iterator[tuple[str, int, int]]:
    """`(term, start, end)` as `prose_analyzer()(text, chars=True, removestops=False)`."""
    stops = STOP_WORDS
    stem = _STEMS.get
    for match in _PROSE_WORD.finditer(text):
        word = match.group().lower()
        if len(word) < 2 or word in stops:
            yield word, match.start(), match.end()
        else:
            yield stem(word) or _stem(word), match.start(), match.end()


def code_spans(text: str) -> Iterator[tuple[str, int, int]]:
    """`(term, start, end)` as `code_analyzer()(text, chars=True)`: identifiers, then parts."""
    for match in _CODE_WORD.finditer(text):
        word, start = match.group(), match.start()
        yield word.lower(), start, match.end()
        if word[0].isdigit():
            continue
        for part, part_start, part_end in identifier_parts(word):
            yield part.lower(), start + part_start, start + part_end

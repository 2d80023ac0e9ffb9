"""How prose and code are cut into index terms."""

from __future__ import annotations

import pytest

from panlearn.search.analysis import code_analyzer, identifier_parts, prose_analyzer


def index_terms(text: str) -> set[str]:
    return {token.text for token in code_analyzer()(text, mode="index")}


def query_terms(text: str) -> list[str]:
    return [token.text for token in code_analyzer()(text, mode="query")]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("two_theta = 1", {"two_theta", "two", "theta"}),
        ("f = h5py.File(path)", {"h5py.file", "h5py", "file"}),
        ("g.attrs['NX_class'] = 'NXdata'", {"nxdata", "nx", "data"}),
        ("twoTheta", {"twotheta", "two", "theta"}),
        ("HTTPServer", {"httpserver", "http", "server"}),
        ("np.float64", {"np.float64", "np", "float64"}),
    ],
)
def test_identifiers_are_indexed_whole_and_by_parts(source: str, expected: set[str]) -> None:
    assert expected <= index_terms(source)


def test_digits_stay_inside_identifiers_and_numbers_stay_whole() -> None:
    terms = index_terms("h5py 3.5 float64")
    assert {"h5py", "3.5", "float64"} <= terms
    assert not {"h", "py", "3", "5", "float"} & terms


def test_parts_share_the_identifier_position_and_point_at_their_characters() -> None:
    source = "x = two_theta"
    tokens = [
        (t.text, t.pos, source[t.startchar : t.endchar])
        for t in code_analyzer()(source, positions=True, chars=True)
    ]
    assert tokens == [
        ("x", 0, "x"),
        ("two_theta", 1, "two_theta"),
        ("two", 1, "two"),
        ("theta", 1, "theta"),
    ]


def test_queries_keep_the_whole_word() -> None:
    assert query_terms("h5py.File two_theta NXdata") == ["h5py.file", "two_theta", "nxdata"]


def test_identifier_parts_do_not_repeat() -> None:
    assert [part for part, _, _ in identifier_parts("data.data_data")] == [
        "data",
        "data_data",
    ]


def test_prose_is_stemmed_and_stop_words_dropped() -> None:
    terms = [token.text for token in prose_analyzer()("The scattering and the scattered beams")]
    assert terms == ["scatter", "scatter", "beam"]


# -- the index-time fast paths give exactly the analyzers' postings ---------------

SAMPLES = [
    "The scattering and the scattered beams",
    "A an I x. of: Bragg's law, d-spacing (2θ) and Ångström units; h5py.File and two_theta.",
    "İstanbul ΣΊΣΥΦΟΣ naïve coöperate 3.5e-3 1.2.3 x.y.z __init__ _private e.g. i.e.",
    "",
    "   ",
]


def _notebook_texts() -> list[tuple[str, str]]:
    from pathlib import Path

    import nbformat

    from panlearn.search import extract_notebook_text

    root = Path(__file__).resolve().parents[3] / "courses"
    texts = []
    for path in sorted(root.glob("**/*.ipynb")):
        text = extract_notebook_text(nbformat.read(path, as_version=4))
        texts.append((text.markdown, text.code))
    return texts


def _field_postings(
    fieldname: str, value: str, fast: bool
) -> list[tuple[bytes, int, float, bytes]]:
    from whoosh.fields import TEXT, FieldType

    from panlearn.search.schema import build_schema

    field = build_schema()[fieldname]
    if fast:
        return sorted(field.index(value))
    generic = FieldType.index if fieldname == "words" else TEXT.index
    return sorted(generic(field, value))


def test_fast_index_paths_match_the_analyzers() -> None:
    texts = _notebook_texts()
    assert texts, "no course notebooks to compare on"
    prose = SAMPLES + [markdown for markdown, _ in texts]
    code = SAMPLES + [code for _, code in texts]
    for value in prose:
        for fieldname in ("title", "markdown", "words"):
            assert _field_postings(fieldname, value, fast=True) == _field_postings(
                fieldname, value, fast=False
            ), (fieldname, value[:80])
    for value in code:
        assert _field_postings("code", value, fast=True) == _field_postings(
            "code", value, fast=False
        ), value[:80]


def _analyzer_spans(analyzer, value: str) -> list[tuple[str, int, int]]:  # type: ignore[no-untyped-def]
    tokens = analyzer(value, chars=True, removestops=False)
    return [(t.text, t.startchar, t.endchar) for t in tokens]


def test_snippet_spans_match_the_analyzers() -> None:
    from panlearn.search.analysis import code_spans, prose_spans

    texts = _notebook_texts()
    assert texts, "no course notebooks to compare on"
    for value in SAMPLES + [markdown for markdown, _ in texts]:
        assert list(prose_spans(value)) == _analyzer_spans(prose_analyzer(), value), value[:80]
    for value in SAMPLES + [code for _, code in texts]:
        assert list(code_spans(value)) == _analyzer_spans(code_analyzer(), value), value[:80]

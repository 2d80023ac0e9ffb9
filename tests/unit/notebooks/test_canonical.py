import json

import pytest
from nbformat import v4

from panlearn.errors import InvalidInputError
from panlearn.notebooks.canonical import (
    canonical_json,
    normalize_notebook,
    notebook_sha256,
    read_notebook_bytes,
)
from tests.builders import notebook


def _raw_notebook(**overrides):
    raw = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                    "language": "python"}},
        "cells": [
            {"id": "intro", "cell_type": "markdown", "metadata": {}, "source": ["# Hi\n", "there"]},
            {"id": "code", "cell_type": "code", "metadata": {"trusted": True},
             "execution_count": 1, "source": "x = 1",
             "outputs": [{"output_type": "stream", "name": "stdout", "text": ["a\n", "b\n"]}]},
        ],
    }
    raw.update(overrides)
    return raw


def test_canonical_json_is_sorted_compact_utf8():
    nb = notebook(v4.new_markdown_cell("Å ngström", id="a"))
    data = canonical_json(nb)
    assert data.decode("utf-8") == json.dumps(
        json.loads(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    assert "Å ngström".encode() in data


def test_address_ignores_line_splitting_key_order_indent_and_trust():
    raw = _raw_notebook()
    joined = json.loads(json.dumps(raw))
    joined["cells"][0]["source"] = "# Hi\nthere"
    joined["cells"][1]["outputs"][0]["text"] = "a\nb\n"
    del joined["cells"][1]["metadata"]["trusted"]
    joined["metadata"]["signature"] = "sha256:abc"
    pretty = json.dumps(joined, indent=4, sort_keys=False).encode()
    assert notebook_sha256(raw) == notebook_sha256(read_notebook_bytes(pretty))
    assert len(notebook_sha256(raw)) == 64


def test_content_change_changes_the_address():
    raw = _raw_notebook()
    other = json.loads(json.dumps(raw))
    other["cells"][1]["source"] = "x = 2"
    assert notebook_sha256(raw) != notebook_sha256(other)


def test_missing_cell_ids_get_stable_ids_and_minor_is_upgraded():
    raw = _raw_notebook(nbformat_minor=4)
    for cell in raw["cells"]:
        del cell["id"]
    first, second = normalize_notebook(raw), normalize_notebook(raw)
    assert first.nbformat_minor == 5
    assert [c.id for c in first.cells] == [c.id for c in second.cells]
    assert len({c.id for c in first.cells}) == 2
    assert notebook_sha256(raw) == notebook_sha256(raw)


def test_duplicate_cell_ids_are_repaired_deterministically():
    raw = _raw_notebook()
    raw["cells"][1]["id"] = "intro"
    ids = [cell.id for cell in normalize_notebook(raw).cells]
    assert ids == ["intro", "intro-2"]


def test_normalising_does_not_change_the_input():
    raw = _raw_notebook()
    before = json.dumps(raw, sort_keys=True)
    normalize_notebook(raw)
    assert json.dumps(raw, sort_keys=True) == before


def test_canonical_bytes_read_back_to_the_same_address():
    raw = _raw_notebook()
    assert notebook_sha256(read_notebook_bytes(canonical_json(raw))) == notebook_sha256(raw)


def test_reads_a_notebook_with_a_bom():
    data = b"\xef\xbb\xbf" + json.dumps(_raw_notebook()).encode()
    assert read_notebook_bytes(data).cells[0].source == "# Hi\nthere"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"\xff\xfe\x00", "not UTF-8"),
        (b'{"nbformat": 4, ', "not valid JSON"),
        (b'{"nbformat": 4, "x": NaN}', "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"cells": []}', "no `nbformat`"),
        (json.dumps(_raw_notebook(nbformat=3)).encode(), "format 3 is not supported"),
        (json.dumps(_raw_notebook(cells="nope")).encode(), "no `cells` list"),
    ],
)
def test_unreadable_uploads_raise_invalid_input_with_a_clear_message(data, message):
    with pytest.raises(InvalidInputError) as caught:
        read_notebook_bytes(data)
    assert message in caught.value.detail
    assert caught.value.status == 400
    assert caught.value.errors == {"notebook": [caught.value.detail]}


def test_schema_errors_name_the_location():
    raw = _raw_notebook()
    raw["cells"][1]["cell_type"] = "python"
    with pytest.raises(InvalidInputError, match="not valid nbformat 4 at cells/1"):
        read_notebook_bytes(json.dumps(raw).encode())


def test_bad_execution_count_is_rejected():
    raw = _raw_notebook()
    raw["cells"][1]["execution_count"] = "<script>"
    with pytest.raises(InvalidInputError):
        normalize_notebook(raw)

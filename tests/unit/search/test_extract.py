"""Notebook → searchable text."""

from __future__ import annotations

from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output, new_raw_cell

from panlearn.search import extract_notebook_text


def test_markdown_and_code_are_collected_and_outputs_dropped() -> None:
    notebook = new_notebook(
        cells=[
            new_markdown_cell("# Bragg's law\nPeaks appear at $2d\\sin\\theta = n\\lambda$."),
            new_code_cell(
                "%matplotlib inline\nimport h5py",
                outputs=[new_output("stream", name="stdout", text="output_only_word")],
            ),
            new_markdown_cell("   "),
            new_raw_cell("raw prose"),
            new_code_cell("two_theta = 2 * theta"),
        ]
    )
    text = extract_notebook_text(notebook)
    assert text.markdown == (
        "# Bragg's law\nPeaks appear at $2d\\sin\\theta = n\\lambda$.\n\nraw prose"
    )
    assert text.code == "import h5py\n\ntwo_theta = 2 * theta"
    assert "output_only_word" not in text.markdown + text.code


def test_embedded_images_are_not_indexed() -> None:
    image = "![beam](data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAAB) ![x](attachment:x.png)"
    text = extract_notebook_text(new_notebook(cells=[new_markdown_cell(f"Beam {image} profile")]))
    assert "iVBOR" not in text.markdown
    assert "attachment" not in text.markdown
    assert text.markdown.startswith("Beam ![beam](")


def test_plain_json_with_list_sources_is_accepted() -> None:
    notebook = {
        "cells": [
            {"cell_type": "markdown", "source": ["Line one\n", "line two"], "metadata": {}},
            {"cell_type": "code", "source": ["x = 1\n", "y = 2"], "outputs": [], "metadata": {}},
        ]
    }
    text = extract_notebook_text(notebook)
    assert (text.markdown, text.code) == ("Line one\nline two", "x = 1\ny = 2")


def test_an_empty_notebook_gives_empty_text() -> None:
    text = extract_notebook_text(new_notebook())
    assert (text.markdown, text.code) == ("", "")

"""Snippet text: markdown and TeX become plain prose; nothing of the markup is left."""

from __future__ import annotations

import pytest

from panlearn.search.plaintext import formula_window, plain_text, tex_to_text


@pytest.mark.parametrize(("tex", "text"), [
    (r"\lambda = 2 d \sin\theta", "λ = 2 d sin θ"),
    (r"q = \frac{4\pi}{\lambda}\sin\theta", "q = 4 π / λ sin θ"),
    (r"10^{-3}\,\mathrm{\AA}^{-1}", "10⁻³ Å ⁻¹"),
    (r"42.7^\circ", "42.7°"),
    (r"\sum_i N_i / d_i^2", "Σ i Ni / di²"),
    (r"\sqrt{\sum C_{ij}}", "√ Σ Cij"),
    (r"\left( \frac{a}{b} \right)", "( a/b )"),
])
def test_tex_reads_as_text(tex, text):
    assert tex_to_text(tex) == text


def test_markdown_loses_its_marks_and_keeps_its_words():
    text = plain_text(
        "# Bragg's law\n\nPlanes a distance $d$ apart reflect a wave of wavelength $\\lambda$:\n\n"
        "$$ \\lambda = 2 d \\sin\\theta $$\n\n## Finding peaks\n\n- **bold**, *emphasis*, "
        "`find_peaks` and [a link](https://example.org)\n> quoted\n\n| a | b |\n|---|---|\n"
        "| 1 | 2 |\n\n```python\nx = 1\n```\n<b>html</b> &amp; "
        "![a figure](data:image/png;base64,AA)")
    for mark in ("$", "#", "**", "`", "](", "<b>", "|", "---", "```", "&amp;"):
        assert mark not in text, mark
    assert text.startswith("Bragg's law. Planes a distance d apart")
    assert "λ = 2 d sin θ" in text and "Finding peaks." in text
    assert "bold, emphasis, find_peaks and a link" in text and "html & a figure" in text


def test_inline_formulas_stay_joined_to_their_words():
    text = plain_text("Ga$_{0.94}$Mn$_{0.04}$Sb and $d$-spacings")
    assert text == "Ga0.94Mn0.04Sb and d-spacings"


def test_code_loses_comment_marks_only():
    assert plain_text("x = f['a'][()]  # degrees\n# unit: Å", code=True) == (
        "x = f['a'][()] degrees unit: Å")


def test_a_window_is_widened_so_that_no_formula_is_cut():
    text = "Intro $a$ text. $$ Q = \\frac{4\\pi}{\\lambda}\\sin\\theta $$ and $d$ more."
    middle = text.index("theta")
    low, high = formula_window(text, middle - 5, middle + 3)
    assert text[low:high].startswith("$$") and text[low:high].endswith("$$")
    low, high = formula_window(text, text.index("a$"), text.index("a$") + 1)
    assert text[low:high] == "$a$"
    assert formula_window(text, 0, len(text)) == (0, len(text))
    assert "\\" not in plain_text(text[slice(*formula_window(text, middle - 5, middle + 3))])

r"""Markdown and TeX as plain text, for search snippets that read like prose.

The index stores the notebook's markdown as written, because that is what is
analysed and matched; a snippet cut from it showed `$$ \lambda = 2 d
\sin\theta $$` and `## Finding peaks`. `plain_text` keeps the words and
turns maths into readable text (`λ = 2 d sin θ`): markup, TeX commands,
dollar signs and heading or comment marks go. The conversion is regular
expressions over a window of text, not a parser; it is meant for reading,
never for matching.
"""

from __future__ import annotations

import html
import re

_SYMBOLS = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "varepsilon": "ε",
    "zeta": "ζ", "eta": "η", "theta": "θ", "vartheta": "ϑ", "iota": "ι", "kappa": "κ",
    "lambda": "λ", "mu": "μ", "nu": "ν", "xi": "ξ", "pi": "π", "rho": "ρ", "sigma": "σ",
    "tau": "τ", "upsilon": "υ", "phi": "φ", "varphi": "φ", "chi": "χ", "psi": "ψ",
    "omega": "ω", "Gamma": "Γ", "Delta": "Δ", "Theta": "Θ", "Lambda": "Λ", "Xi": "Ξ",
    "Pi": "Π", "Sigma": "Σ", "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω",
    "AA": "Å", "angstrom": "Å", "cdot": "·", "times": "×", "div": "÷", "pm": "±", "mp": "∓",
    "approx": "≈", "sim": "~", "simeq": "≃", "neq": "≠", "ne": "≠", "leq": "≤", "le": "≤",
    "geq": "≥", "ge": "≥", "ll": "≪", "gg": "≫", "infty": "∞", "degree": "°", "circ": "°",
    "to": "→", "rightarrow": "→", "leftarrow": "←", "Rightarrow": "⇒", "propto": "∝",
    "partial": "∂", "nabla": "∇", "hbar": "ħ", "int": "∫", "sum": "Σ", "prod": "Π",
    "langle": "⟨", "rangle": "⟩", "ldots": "…", "cdots": "⋯", "dots": "…", "in": "∈",
    "perp": "⊥", "parallel": "∥", "prime": "′", "quad": " ", "qquad": " ",
}
#: Commands whose argument is kept as it is (formatting only).
_KEEP_ARGUMENT = ("text", "textrm", "textit", "textbf", "mathrm", "mathbf", "mathit", "mathcal",
                  "mathbb", "mathsf", "operatorname", "boldsymbol", "bm", "vec", "hat", "bar",
                  "overline", "tilde", "dot", "ddot", "mbox", "unit", "si", "emph")
_DROP = ("left", "right", "big", "Big", "bigg", "Bigg", "displaystyle", "limits", "nolimits")
_SUPERSCRIPT = str.maketrans("0123456789-+", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺")

#: A braced group that may hold one level of braces (`{\\sum C_{ij}}`).
_GROUP = r"\{((?:[^{}]|\{[^{}]*\})*)\}"
_FRAC = re.compile(r"\\[dt]?frac\s*" + _GROUP + r"\s*" + _GROUP)
_SQRT = re.compile(r"\\sqrt\s*" + _GROUP)
_KEEP = re.compile(r"\\(?:" + "|".join(_KEEP_ARGUMENT) + r")\s*\{([^{}]*)\}")
_POWER = re.compile(r"\^\s*(?:\{\s*(-?\d+)\s*\}|(\d))")
_DEGREE = re.compile(r"\^\s*\{?\s*\\circ\s*\}?")
_SUBSCRIPT = re.compile(r"_\s*(?:\{([^{}]*)\}|(\w))")
_COMMAND = re.compile(r"\\([A-Za-z]+)\*?")
_SPACING = re.compile(r"\\[,;:! ]|\\\\|~")
_ESCAPED = re.compile(r"\\([%&_#{}$])")

_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
_FENCE = re.compile(r"^\s*(```|~~~).*$", re.MULTILINE)
_DISPLAY_MATHS = re.compile(r"\$\$(.+?)\$\$|\\\[(.+?)\\\]", re.DOTALL)
_INLINE_MATHS = re.compile(r"(?<![\\$])\$([^$\n]+?)\$|\\\((.+?)\\\)", re.DOTALL)
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\[[^\]]*\])")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s*(.*?)\s*#*\s*$", re.MULTILINE)
_QUOTE = re.compile(r"^\s{0,3}>\s?", re.MULTILINE)
_LIST_MARK = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+", re.MULTILINE)
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$", re.MULTILINE)
_RULE = re.compile(r"^\s*([-*_])(?:\s*\1){2,}\s*$", re.MULTILINE)
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1", re.DOTALL)
_EMPHASIS = re.compile(r"(?<![\w*])([*_])(?=\S)(.+?)(?<=\S)\1(?![\w*])")
_CODE_TICKS = re.compile(r"`+")
_CODE_COMMENT = re.compile(r"#+[ \t]?")
_SPACES = re.compile(r"\s+")
_BEFORE_PUNCTUATION = re.compile(r" ([,;:.)])(?=\s|$)")


def tex_to_text(tex: str) -> str:
    r"""A TeX formula as readable text: `\lambda = 2 d \sin\theta` → `λ = 2 d sin θ`."""
    text = tex
    for _ in range(3):  # nested \frac{\sqrt{x}}{y}: innermost first
        text = _FRAC.sub(lambda m: f"{m.group(1)}/{m.group(2)}", text)
        text = _SQRT.sub(lambda m: f"√{m.group(1)}", text)
        text = _KEEP.sub(lambda m: m.group(1), text)
    text = _DEGREE.sub("°", text)
    text = _SPACING.sub(" ", text)
    text = _ESCAPED.sub(lambda m: "" if m.group(1) in "{}$#" else m.group(1), text)

    def command(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in _SYMBOLS:
            return f" {_SYMBOLS[name]} " if len(_SYMBOLS[name]) == 1 else _SYMBOLS[name]
        return "" if name in _DROP else f" {name} "

    # Commands before scripts: `\sum_i` is Σ with a subscript, not a command `\sumi`.
    text = _COMMAND.sub(command, text)
    text = _POWER.sub(lambda m: (m.group(1) or m.group(2)).translate(_SUPERSCRIPT), text)
    text = _SUBSCRIPT.sub(lambda m: m.group(1) if m.group(1) is not None else m.group(2), text)
    text = text.replace("{", "").replace("}", "").replace("&", " ")
    return _SPACES.sub(" ", text).strip()


def _display_maths(match: re.Match[str]) -> str:
    inner = next(group for group in match.groups() if group is not None)
    return f" {tex_to_text(inner)} "


def _inline_maths(match: re.Match[str]) -> str:
    # No spaces added: `Ga$_{0.94}$Mn` is one formula, `$d$-spacing` one word.
    return tex_to_text(next(group for group in match.groups() if group is not None))


def _heading(match: re.Match[str]) -> str:
    title = match.group(1)
    return title if not title or title[-1] in ".:?!" else title + "."


def plain_text(text: str, *, code: bool = False) -> str:
    """Markdown (or notebook code with `code=True`) as one line of plain text."""
    if code:
        text = _CODE_COMMENT.sub("", text)
        return _SPACES.sub(" ", text.replace("$", "")).strip()
    text = _COMMENT.sub(" ", text)
    text = _FENCE.sub(" ", text)
    text = _DISPLAY_MATHS.sub(_display_maths, text)
    text = _INLINE_MATHS.sub(_inline_maths, text)
    text = _TAG.sub(" ", text)
    text = _IMAGE.sub(lambda m: m.group(1), text)
    text = _LINK.sub(lambda m: m.group(1), text)
    text = _TABLE_RULE.sub(" ", text)
    text = _RULE.sub(" ", text)
    text = _HEADING.sub(_heading, text)
    text = _QUOTE.sub("", text)
    text = _LIST_MARK.sub("", text)
    text = _STRONG.sub(lambda m: m.group(2), text)
    text = _EMPHASIS.sub(lambda m: m.group(2), text)
    text = _CODE_TICKS.sub("", text)
    text = html.unescape(text).replace("|", " ").replace("$", "").replace("#", "")
    return _BEFORE_PUNCTUATION.sub(r"\1", _SPACES.sub(" ", text)).strip()


def formula_window(text: str, low: int, high: int) -> tuple[int, int]:
    """Widen `text[low:high]` so that it cuts no `$$…$$` or `$…$` formula in two.

    A window around a search match may start or end inside a formula; cut there,
    its TeX could not be read as maths. Dollar signs are counted (a formula is
    open where an odd number precede), so this is cheap on long texts.
    """
    def singles(part: str) -> int:
        return part.count("$") - 2 * part.count("$$")

    if text.count("$$", 0, low) % 2:
        low = text.rfind("$$", 0, low)
    if singles(text[:low]) % 2:
        low = max(text.rfind("$", 0, low), 0)
    if text.count("$$", low, high) % 2:
        end = text.find("$$", high)
        high = len(text) if end < 0 else end + 2
    if singles(text[low:high]) % 2:
        end = text.find("$", high)
        high = len(text) if end < 0 else end + 1
    return low, high

r"""Moodle XML, the question-bank format of Moodle (docs.moodle.org: "Moodle XML format").

Export writes each question as Moodle's own types: `choice` and `multi` as
`multichoice` (single or multiple answers, with answer fractions and feedback),
`numeric` as `numerical` (tolerance and units), `text` as `shortanswer`
(`usecase`); points as `defaultgrade`, `penalty` as `penalty`, `explanation`
as `generalfeedback`, and right/wrong feedback as Moodle's combined feedback or
a `*` answer. Texts are markdown here and HTML there: the markdown is rendered
like on our pages, with maths delimiters turned into MathJax's `\(…\)` and
`\[…\]`; import turns HTML back into markdown (markdownify) and the delimiters
back into `$…$` and `$$…$$`.

What Moodle cannot say is reported, never silently changed: a `text` question
with patterns (core Moodle has no regular expressions) is left out, unless its
patterns are literal text around `.*`, which Moodle writes `*`; a relative
tolerance becomes the absolute one it means; an all-or-nothing `multi` is
written with a -100 % fraction on each wrong option (Moodle still gives partial
credit for missing right ones). Import maps `truefalse` to `choice` and
shortanswer `*` wildcards to patterns, and skips the types we do not have
(essay, matching, cloze, calculated, description), naming each one.

XML from outside is parsed with defusedxml (no DTDs, no entity expansion).
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from panlearn.errors import InvalidInputError
from panlearn.quizzes.questions import ID_RE, Question, QuestionError, parse_question

#: The largest question bank accepted, in bytes.
MAX_XML_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class ExportedQuestion:
    """A question to export and the category (lesson) it belongs to."""

    category: str
    question: Question


@dataclass(frozen=True)
class ImportedBank:
    """The questions read from a Moodle XML file, with what could not be carried over."""

    questions: list[Question]
    categories: list[str]
    warnings: list[str]


# -- maths and markup ----------------------------------------------------------------------------

_CODE = re.compile(r"(<pre\b.*?</pre>|<code\b.*?</code>)", re.S | re.I)
_DISPLAY_DOLLARS = re.compile(r"\$\$(.+?)\$\$", re.S)
_INLINE_DOLLAR = re.compile(r"(?<![\\$])\$(?!\s)([^$\n]+?)(?<![\s\\])\$(?!\$)")
_MATHJAX = re.compile(r"\\\((.+?)\\\)|\\\[(.+?)\\\]|\$\$(.+?)\$\$", re.S)
_PLACEHOLDER = "PLMATHX{}X"


def _outside_code(text: str, convert: Any) -> str:
    parts = _CODE.split(text)
    return "".join(part if index % 2 else convert(part) for index, part in enumerate(parts))


def markdown_to_moodle_html(text: str) -> str:
    """Our markdown as the HTML Moodle shows, maths in MathJax's delimiters."""
    from panlearn.notebooks.render import render_markdown

    def delimiters(part: str) -> str:
        part = _DISPLAY_DOLLARS.sub(lambda m: r"\[" + m.group(1) + r"\]", part)
        return _INLINE_DOLLAR.sub(lambda m: r"\(" + m.group(1) + r"\)", part)

    return _outside_code(render_markdown(text), delimiters)


def moodle_html_to_markdown(text: str, text_format: str = "html") -> str:
    """Moodle's question text as our markdown (maths back in `$…$`)."""
    if text_format in {"plain_text", "markdown"}:
        return text.strip()
    from markdownify import markdownify

    maths: list[str] = []

    def protect(match: re.Match[str]) -> str:
        inline, display, dollars = match.groups()
        tex = html.unescape(inline if inline is not None else display or dollars or "")
        maths.append(f"${tex}$" if inline is not None else f"$${tex}$$")
        return _PLACEHOLDER.format(len(maths) - 1)

    protected = _outside_code(text, lambda part: _MATHJAX.sub(protect, part))
    # Underscores stay as written: CommonMark never reads intraword ones as emphasis.
    markdown = markdownify(protected, heading_style="ATX", bullets="-",
                           escape_underscores=False).strip()
    for index, tex in enumerate(maths):
        markdown = markdown.replace(_PLACEHOLDER.format(index), tex)
    return re.sub(r"\n{3,}", "\n\n", markdown)


# -- export --------------------------------------------------------------------------------------


def _number(value: float) -> str:
    return f"{value:.7f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))


def _text(parent: ET.Element, tag: str, value: str, *, text_format: str | None = "html",
          markdown: bool = True) -> ET.Element:
    element = ET.SubElement(parent, tag, {"format": text_format} if text_format else {})
    ET.SubElement(element, "text").text = markdown_to_moodle_html(value) if markdown and value \
        else value
    return element


def _simple(parent: ET.Element, tag: str, value: str) -> None:
    ET.SubElement(parent, tag).text = value


def _answer(parent: ET.Element, fraction: float, text: str, feedback: str | None, *,
            markdown: bool, tolerance: float | None = None) -> None:
    answer = ET.SubElement(parent, "answer", {
        "fraction": _number(fraction), "format": "html" if markdown else "moodle_auto_format"})
    ET.SubElement(answer, "text").text = markdown_to_moodle_html(text) if markdown else text
    if tolerance is not None:
        _simple(answer, "tolerance", _number(tolerance))
    _text(answer, "feedback", feedback or "")


def _header(bank: ET.Element, kind: str, question: Question) -> ET.Element:
    element = ET.SubElement(bank, "question", {"type": kind})
    name = ET.SubElement(element, "name")
    ET.SubElement(name, "text").text = question.id
    _text(element, "questiontext", question.question)
    _text(element, "generalfeedback", question.explanation or "")
    _simple(element, "defaultgrade", _number(question.points))
    _simple(element, "penalty", _number(question.penalty))
    _simple(element, "hidden", "0")
    _simple(element, "idnumber", question.id)
    return element


def _multichoice(bank: ET.Element, question: Question, warnings: list[str]) -> None:
    element = _header(bank, "multichoice", question)
    single = question.type == "choice"
    _simple(element, "single", "true" if single else "false")
    _simple(element, "shuffleanswers", "false")
    _simple(element, "answernumbering", "abc")
    _text(element, "correctfeedback", question.feedback_correct or "")
    _text(element, "partiallycorrectfeedback", "")
    _text(element, "incorrectfeedback", question.feedback_incorrect or "")
    correct = len(question.correct_indices())
    if not single and not question.partial and correct > 1:
        warnings.append(f"{question.id}: all-or-nothing multi written with -100 % per wrong "
                        "option; Moodle gives partial credit for missing right options")
    for option in question.options:
        if single:
            fraction = 100.0 if option.correct else 0.0
        elif option.correct:
            fraction = 100.0 / correct
        else:
            fraction = -100.0 / correct if question.partial else -100.0
        _answer(element, fraction, option.text, option.feedback, markdown=True)


def _numerical(bank: ET.Element, question: Question, warnings: list[str]) -> None:
    element = _header(bank, "numerical", question)
    tolerance = question.tolerance or 0.0
    if question.relative is not None:
        tolerance = question.relative * abs(question.answer or 0.0)
        warnings.append(f"{question.id}: relative tolerance {question.relative:g} written as "
                        f"the absolute tolerance {tolerance:g}")
    _answer(element, 100, _number(question.answer or 0.0), question.feedback_correct,
            markdown=False, tolerance=tolerance)
    if question.feedback_incorrect:
        _answer(element, 0, "*", question.feedback_incorrect, markdown=False, tolerance=0)
    if question.units:
        units = ET.SubElement(element, "units")
        unit = ET.SubElement(units, "unit")
        _simple(unit, "multiplier", "1")
        _simple(unit, "unit_name", question.units)
    # Units shown, only the number graded (Moodle's "units are not graded").
    _simple(element, "unitgradingtype", "0")
    _simple(element, "unitpenalty", "0.1000000")
    _simple(element, "showunits", "3")
    _simple(element, "unitsleft", "0")


def _as_wildcard(pattern: str) -> str | None:
    """A pattern that is literal text around `.*` as Moodle's `*` wildcard, else None."""
    parts = pattern.split(".*")
    literal = [re.sub(r"\\(.)", r"\1", part) for part in parts]
    if any(re.escape(text) != part or "*" in text for text, part in zip(literal, parts,
                                                                        strict=True)):
        return None
    return "*".join(literal)


def _shortanswer(bank: ET.Element, question: Question) -> None:
    element = _header(bank, "shortanswer", question)
    _simple(element, "usecase", "0" if question.ignore_case else "1")
    answers = question.answers
    if question.regex:
        answers = tuple(_as_wildcard(pattern) or "" for pattern in answers)
    for accepted in answers:
        _answer(element, 100, accepted, question.feedback_correct, markdown=False)
    if question.feedback_incorrect:
        _answer(element, 0, "*", question.feedback_incorrect, markdown=False)


def export_moodle_xml(items: list[ExportedQuestion]) -> tuple[bytes, list[str]]:
    """Questions as a Moodle XML question bank (UTF-8), and what could not be carried over."""
    bank = ET.Element("quiz")
    warnings: list[str] = []
    category = None
    for item in items:
        question = item.question
        if question.type == "text" and question.regex and not all(
                _as_wildcard(pattern) for pattern in question.answers):
            warnings.append(f"{question.id}: left out: core Moodle has no regular-expression "
                            "answers (shortanswer only knows the * wildcard)")
            continue
        if question.attempts is not None:
            warnings.append(f"{question.id}: its limit of {question.attempts} attempt(s) is not "
                            "written (Moodle sets attempts on the quiz, not the question)")
        if item.category != category:
            category = item.category
            marker = ET.SubElement(bank, "question", {"type": "category"})
            ET.SubElement(ET.SubElement(marker, "category"), "text").text = \
                f"$course$/top/{category}"
        if question.type in {"choice", "multi"}:
            _multichoice(bank, question, warnings)
        elif question.type == "numeric":
            _numerical(bank, question, warnings)
        else:
            _shortanswer(bank, question)
    ET.indent(bank, space="  ")
    body = ET.tostring(bank, encoding="unicode")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n").encode(), warnings


# -- import --------------------------------------------------------------------------------------


def _child_text(element: ET.Element, path: str, default: str = "") -> str:
    found = element.find(path)
    return found.text.strip() if found is not None and found.text else default


def _rich(element: ET.Element, tag: str) -> str:
    found = element.find(tag)
    if found is None:
        return ""
    return moodle_html_to_markdown(_child_text(found, "text"), found.get("format", "html"))


def _float(value: str, default: float) -> float:
    try:
        return float(value)
    except ValueError:
        return default


def _slug(name: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-_")[:56] or "question"
    if not ID_RE.match(base):
        base = "q-" + base
    candidate, number = base, 2
    while candidate in taken:
        candidate, number = f"{base}-{number}", number + 1
    taken.add(candidate)
    return candidate


def _wildcard(pattern: str) -> str:
    return ".*".join(re.escape(part) for part in pattern.split("*"))


def _read_question(element: ET.Element, kind: str, taken: set[str],
                   warnings: list[str]) -> dict[str, Any] | None:
    name = _child_text(element, "name/text", "question")
    wanted = _child_text(element, "idnumber")
    ident = wanted if ID_RE.match(wanted) and wanted not in taken else _slug(name, taken)
    taken.add(ident)
    data: dict[str, Any] = {"id": ident, "question": _rich(element, "questiontext") or name,
                            "points": _float(_child_text(element, "defaultgrade", "1"), 1.0)}
    penalty = _float(_child_text(element, "penalty", "0"), 0.0)
    if 0 < penalty <= 1:
        data["penalty"] = penalty
    explanation = _rich(element, "generalfeedback")
    if explanation:
        data["explanation"] = explanation
    answers = [(_float(a.get("fraction", "0"), 0.0), a) for a in element.findall("answer")]
    if kind in {"multichoice", "truefalse"}:
        single = kind == "truefalse" or _child_text(element, "single", "true").lower() in {
            "true", "1"}
        options = []
        for fraction, answer in answers:
            text = moodle_html_to_markdown(_child_text(answer, "text"),
                                           answer.get("format", "html"))
            if kind == "truefalse":
                text = text.capitalize()
            option: dict[str, Any] = {"text": text}
            if fraction > 0 and (not single or fraction >= 100):
                option["correct"] = True
            elif single and 0 < fraction < 100:
                warnings.append(f"{ident}: the {fraction:g} % option counts as wrong "
                                "(choice questions have one right option)")
            feedback = _rich(answer, "feedback")
            if feedback:
                option["feedback"] = feedback
            options.append(option)
        data["type"] = "choice" if single else "multi"
        data["options"] = options
        if not single:
            wrong = [fraction for fraction, _ in answers if fraction <= 0]
            data["partial"] = not wrong or not all(fraction <= -100 for fraction in wrong)
            share = 100.0 / max(1, sum(fraction > 0 for fraction, _ in answers))
            if data["partial"] and any(abs(fraction + share) > 0.01 for fraction in wrong):
                warnings.append(f"{ident}: graded here with -{share:.4g} % per wrong pick "
                                "(partial credit takes wrong picks off)")
        for ours, theirs in (("feedback_correct", "correctfeedback"),
                             ("feedback_incorrect", "incorrectfeedback")):
            value = _rich(element, theirs)
            if value:
                data[ours] = value
        return data
    right = [answer for fraction, answer in answers if fraction >= 100
             and _child_text(answer, "text") != "*"]
    catch_all = [answer for _, answer in answers if _child_text(answer, "text") == "*"]
    partly = [fraction for fraction, answer in answers if 0 < fraction < 100]
    if partly:
        warnings.append(f"{ident}: answers worth {', '.join(f'{f:g} %' for f in partly)} "
                        "left out (only full-mark answers are kept)")
    if right and _rich(right[0], "feedback"):
        data["feedback_correct"] = _rich(right[0], "feedback")
    if catch_all and _rich(catch_all[0], "feedback"):
        data["feedback_incorrect"] = _rich(catch_all[0], "feedback")
    if kind == "numerical":
        if not right:
            warnings.append(f"{ident}: left out: no answer worth 100 %")
            return None
        if len(right) > 1:
            warnings.append(f"{ident}: only the first of {len(right)} right answers is kept")
        data["type"] = "numeric"
        data["answer"] = _float(_child_text(right[0], "text"), 0.0)
        data["tolerance"] = abs(_float(_child_text(right[0], "tolerance", "0"), 0.0))
        units = [(_float(_child_text(u, "multiplier", "1"), 1.0), _child_text(u, "unit_name"))
                 for u in element.findall("units/unit")]
        base = [unit for multiplier, unit in units if multiplier == 1 and unit]
        if base:
            data["units"] = base[0]
        return data
    texts = [_child_text(answer, "text") for answer in right]
    data["type"] = "text"
    data["ignore_case"] = _child_text(element, "usecase", "0") in {"0", "false"}
    if any("*" in text for text in texts):
        data["regex"] = True
        texts = [_wildcard(text) for text in texts]
    data["answers"] = texts
    if not texts:
        warnings.append(f"{ident}: left out: no answer worth 100 %")
        return None
    return data


def import_moodle_xml(content: bytes) -> ImportedBank:
    """Read a Moodle XML question bank; questions we cannot represent are listed, not kept."""
    if len(content) > MAX_XML_BYTES:
        raise InvalidInputError(f"The question bank is over {MAX_XML_BYTES} bytes.")
    try:
        root = fromstring(content)
    except (ET.ParseError, DefusedXmlException) as error:
        raise InvalidInputError(f"Not a Moodle XML file: {error}",
                                errors={"xml": [str(error)]}) from None
    if root.tag != "quiz":
        raise InvalidInputError(f"Not a Moodle XML question bank: the root is <{root.tag}>, "
                                "not <quiz>.", errors={"xml": ["root must be <quiz>"]})
    questions: list[Question] = []
    categories: list[str] = []
    warnings: list[str] = []
    taken: set[str] = set()
    for element in root.findall("question"):
        kind = element.get("type", "")
        if kind == "category":
            path = _child_text(element, "category/text")
            categories.append(re.sub(r"^\$(course|system|module|cat\d+)\$/(top/)?", "", path))
            continue
        if kind not in {"multichoice", "truefalse", "numerical", "shortanswer"}:
            name = _child_text(element, "name/text", "?")
            warnings.append(f"{name!r} ({kind}): left out: no such question type here")
            continue
        data = _read_question(element, kind, taken, warnings)
        if data is None:
            continue
        try:
            questions.append(parse_question(data))
        except QuestionError as error:
            warnings.append(f"{data['id']}: left out: {error}")
    return ImportedBank(questions=questions, categories=categories, warnings=warnings)

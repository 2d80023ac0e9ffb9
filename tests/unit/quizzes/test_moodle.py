"""Moodle XML: a bank of Moodle's documented examples in and out, ours out and in, safe parsing."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from panlearn.errors import InvalidInputError
from panlearn.quizzes.blocks import read_questions
from panlearn.quizzes.moodle import (
    ExportedQuestion,
    export_moodle_xml,
    import_moodle_xml,
    markdown_to_moodle_html,
    moodle_html_to_markdown,
)
from panlearn.quizzes.questions import parse_question
from tests.builders import quiz_notebook
from tests.conftest import REPO_ROOT

DOCS_BANK = (REPO_ROOT / "tests" / "fixtures" / "moodle" / "docs_examples.xml").read_bytes()


def dicts(questions):
    return [question.to_dict() for question in questions]


def test_the_documented_examples_import_as_our_types():
    bank = import_moodle_xml(DOCS_BANK)
    assert bank.categories == ["Moodle XML format examples"]
    assert [(q.id, q.type) for q in bank.questions] == [
        ("Name-of-question", "choice"), ("square-roots", "multi"), ("True-or-false", "choice"),
        ("Short-answer", "text"), ("Short-answer-with-a-wildcard", "text"),
        ("Numerical", "numeric")]
    choice, multi, truefalse, short, wildcard, numerical = bank.questions
    assert choice.correct_indices() == (0,) and choice.options[1].feedback == "Ooops!"
    assert choice.penalty == pytest.approx(0.3333333)
    assert choice.feedback_correct == "Your answer is correct."
    assert multi.partial and multi.points == 2 and multi.correct_indices() == (0, 1)
    assert multi.question == "Which of these are **right**? For $x^2 = 4$, $x$ is"
    assert multi.explanation == "Both $2$ and $-2$ square to $4$."
    assert [o.text for o in truefalse.options] == ["True", "False"]
    assert short.answers == ("The correct answer", "An alternative answer") and short.ignore_case
    assert wildcard.regex and not wildcard.ignore_case and wildcard.answers == ("NX.*",)
    assert wildcard.feedback_incorrect == "Base classes start with NX."
    assert (numerical.answer, numerical.tolerance, numerical.units) == (23, 0.1, "m")
    assert bank.warnings == ["'Essay' (essay): left out: no such question type here",
                             "'Matching' (matching): left out: no such question type here"]


def test_the_documented_examples_survive_a_round_trip():
    first = import_moodle_xml(DOCS_BANK)
    xml, warnings = export_moodle_xml([ExportedQuestion("Examples", q) for q in first.questions])
    assert warnings == []
    second = import_moodle_xml(xml)
    assert dicts(second.questions) == dicts(first.questions)
    assert second.categories == ["Examples"]


def test_our_questions_go_to_moodle_and_come_back_the_same():
    ours = [item.question for item in read_questions(quiz_notebook())[0]]
    ours.append(parse_question({
        "id": "wildcard", "type": "text", "question": "A `code` word", "answers": [r"NX.*"],
        "regex": True, "feedback_correct": "Yes", "feedback_incorrect": "No",
        "explanation": "Because $a_1 < b$.", "penalty": 0.5, "points": 3}))
    xml, warnings = export_moodle_xml([ExportedQuestion("Course/Lesson", q) for q in ours])
    assert warnings == ["entry-class: its limit of 2 attempt(s) is not written (Moodle sets "
                        "attempts on the quiz, not the question)"]
    back = import_moodle_xml(xml)
    expected = dicts(ours)
    del expected[3]["attempts"]
    assert dicts(back.questions) == expected


def test_the_xml_says_what_moodle_needs():
    ours = {item.question.id: item.question for item in read_questions(quiz_notebook())[0]}
    xml, _ = export_moodle_xml([ExportedQuestion("C/L", q) for q in ours.values()])
    root = ET.fromstring(xml)
    kinds = [q.get("type") for q in root.findall("question")]
    assert kinds == ["category", "multichoice", "multichoice", "numerical", "shortanswer"]
    assert root.find("question/category/text").text == "$course$/top/C/L"
    choice, multi, numerical, short = root.findall("question")[1:]
    assert choice.findtext("single") == "true" and choice.findtext("idnumber") == "embargo"
    assert [a.get("fraction") for a in choice.findall("answer")] == ["0", "100", "0"]
    assert "\\(" not in choice.findtext("questiontext/text")
    assert "<strong>embargo</strong>" in choice.findtext("questiontext/text")
    assert multi.findtext("single") == "false" and multi.findtext("defaultgrade") == "2"
    assert [a.get("fraction") for a in multi.findall("answer")] == ["50", "50", "-50"]
    assert numerical.findtext("answer/text") == "3.5254"
    assert numerical.findtext("answer/tolerance") == "0.005"
    assert numerical.findtext("units/unit/unit_name") == "Å"
    assert numerical.findtext("units/unit/multiplier") == "1"
    assert r"\(2\theta = 42.7°\)" in numerical.findtext("questiontext/text")
    assert [a.findtext("text") for a in numerical.findall("answer")] == ["3.5254", "*"]
    assert short.findtext("usecase") == "0" and short.findtext("answer/text") == "NXentry"


def test_what_moodle_cannot_say_is_reported():
    questions = [
        parse_question({"id": "pattern", "type": "text", "question": "Q", "regex": True,
                        "answers": ["NX(entry|data)"]}),
        parse_question({"id": "relative", "type": "numeric", "question": "Q", "answer": 200,
                        "relative": 0.05}),
        parse_question({"id": "strict", "type": "multi", "question": "Q", "options": [
            {"text": "a", "correct": True}, {"text": "b", "correct": True}, {"text": "c"}]}),
    ]
    xml, warnings = export_moodle_xml([ExportedQuestion("C", q) for q in questions])
    assert len(warnings) == 3 and "pattern: left out" in warnings[0]
    assert "absolute tolerance 10" in warnings[1] and "strict: all-or-nothing" in warnings[2]
    back = {q.id: q for q in import_moodle_xml(xml).questions}
    assert set(back) == {"relative", "strict"}
    assert back["relative"].tolerance == 10 and back["relative"].relative is None
    assert back["strict"].partial is False  # -100 % per wrong option reads back as strict


def test_maths_and_markup_conversions():
    assert markdown_to_moodle_html("Use $d = \\lambda/2$ and $$q = 4\\pi$$ here, `$x$` not") == (
        "<p>Use \\(d = \\lambda/2\\) and \\[q = 4\\pi\\] here, <code>$x$</code> not</p>")
    assert moodle_html_to_markdown("<p>For \\(x_1 &lt; 2\\) and <em>y</em>:</p>") == \
        "For $x_1 < 2$ and *y*:"
    assert moodle_html_to_markdown("plain *text*", "plain_text") == "plain *text*"


@pytest.mark.parametrize("content", [
    b"<?xml version='1.0'?><!DOCTYPE quiz [<!ENTITY a 'aaaa'><!ENTITY b '&a;&a;&a;'>]>"
    b"<quiz><question type='shortanswer'><name><text>&b;</text></name></question></quiz>",
    b"<?xml version='1.0'?><!DOCTYPE quiz [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>"
    b"<quiz>&x;</quiz>",
    b"<notquiz/>",
    b"<quiz><question",
])
def test_hostile_or_broken_xml_is_refused(content):
    with pytest.raises(InvalidInputError) as raised:
        import_moodle_xml(content)
    assert "xml" in raised.value.errors

"""Grading each question type: right, wrong, partly right, and at the limits of tolerance."""

from __future__ import annotations

import time

import pytest

from panlearn.errors import InvalidInputError
from panlearn.quizzes.grading import awarded_points, grade, normalise_answer
from panlearn.quizzes.questions import parse_question


def q(**fields):
    return parse_question({"id": "q", "question": "Q?", **fields})


CHOICE = q(type="choice", options=[{"text": "a", "feedback": "no, a"},
                                   {"text": "b", "correct": True}, {"text": "c"}],
           feedback_correct="well done", feedback_incorrect="try again")


def test_choice_right_wrong_and_feedback_precedence():
    right = grade(CHOICE, 1)
    assert right.correct and right.fraction == 1 and right.feedback == "well done"
    wrong = grade(CHOICE, 0)
    assert not wrong.correct and wrong.feedback == "no, a"  # the option's own feedback wins
    assert grade(CHOICE, "2").feedback == "try again"  # a form sends strings


@pytest.mark.parametrize(("picked", "all_or_nothing", "partial"), [
    ([0, 1], 1.0, 1.0),
    ([1, 0], 1.0, 1.0),
    ([0], 0.0, 0.5),
    ([0, 2], 0.0, 0.0),       # a right and a wrong pick cancel
    ([0, 1, 2], 0.0, 0.5),
    ([2], 0.0, 0.0),          # never below zero
    ([], 0.0, 0.0),
])
def test_multi_all_or_nothing_and_partial_credit(picked, all_or_nothing, partial):
    options = [{"text": "a", "correct": True}, {"text": "b", "correct": True}, {"text": "c"}]
    assert grade(q(type="multi", options=options), picked).fraction == all_or_nothing
    assert grade(q(type="multi", options=options, partial=True), picked).fraction == partial


def test_multi_collects_the_feedback_of_each_picked_option():
    options = [{"text": "a", "correct": True, "feedback": "A!"}, {"text": "b", "feedback": "B?"}]
    assert grade(q(type="multi", options=options), [1, 0]).feedback == "A!\n\nB?"


@pytest.mark.parametrize(("value", "correct"), [
    (3.525, True), (3.530, True), (3.520, True),       # at the limits: inclusive
    (3.5301, False), (3.5199, False),
    ("3,527", True), ("  3.526 ", True), ("\u22123.525", False), (3525e-3, True),
])
def test_numeric_absolute_tolerance_at_its_limits(value, correct):
    assert grade(q(type="numeric", answer=3.525, tolerance=0.005), value).correct is correct


@pytest.mark.parametrize(("value", "correct"), [
    (1000, True), (1010, True), (990, True), (1010.01, False), (989.99, False)])
def test_numeric_relative_tolerance_at_its_limits(value, correct):
    assert grade(q(type="numeric", answer=1000, relative=0.01), value).correct is correct


def test_numeric_without_tolerance_is_exact_and_negative_answers_work():
    question = q(type="numeric", answer=-0.1)
    assert grade(question, -0.1).correct and not grade(question, -0.1000001).correct
    assert grade(question, "-1e-1").correct


@pytest.mark.parametrize(("fields", "answer", "correct"), [
    ({"answers": ["NXentry"]}, "NXentry", True),
    ({"answers": ["NXentry"]}, "nxentry", False),
    ({"answers": ["NXentry"], "ignore_case": True}, "  NXENTRY ", True),
    ({"answers": ["Human Organ Atlas"]}, "Human   Organ\tAtlas", True),
    ({"answers": [r"NX(entry|subentry)"], "regex": True}, "NXsubentry", True),
    ({"answers": [r"NX(entry|subentry)"], "regex": True}, "an NXentry", False),  # whole match
    ({"answers": [r"nx\w+"], "regex": True, "ignore_case": True}, "NXdata", True),
])
def test_text_exact_case_insensitive_and_patterns(fields, answer, correct):
    assert grade(q(type="text", **fields), answer).correct is correct


def test_a_pattern_that_backtracks_exponentially_elsewhere_answers_at_once():
    question = q(type="text", answers=["(a+)+b"], regex=True)
    started = time.perf_counter()
    assert not grade(question, "a" * 500).correct
    # RE2 is linear; Python's re would take longer than the age of the universe here.
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize(("question", "answer"), [
    (CHOICE, 3), (CHOICE, -1), (CHOICE, True), (CHOICE, 1.0), (CHOICE, None),
    (q(type="multi", options=[{"text": "a", "correct": True}, {"text": "b"}]), "0"),
    (q(type="multi", options=[{"text": "a", "correct": True}, {"text": "b"}]), [0, 5]),
    (q(type="numeric", answer=1), "1 Å"), (q(type="numeric", answer=1), float("nan")),
    (q(type="numeric", answer=1), True), (q(type="numeric", answer=1), [1]),
    (q(type="numeric", answer=1), 10**400), (q(type="numeric", answer=1), "1e999"),
    (q(type="text", answers=["a"]), 1), (q(type="text", answers=["a"]), "   "),
])
def test_malformed_answers_are_invalid_input_not_wrong_answers(question, answer):
    with pytest.raises(InvalidInputError) as raised:
        normalise_answer(question, answer)
    assert "answer" in raised.value.errors


def test_penalties_reduce_the_points_of_later_attempts_never_below_zero():
    question = q(type="choice", points=2, penalty=0.3,
                 options=[{"text": "a", "correct": True}, {"text": "b"}])
    verdict = grade(question, 0)
    assert [awarded_points(question, verdict, earlier) for earlier in range(5)] == [
        2.0, 1.4, 0.8, 0.2, 0.0]

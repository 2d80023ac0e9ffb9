"""Grading one answer to one question: a pure function, no kernel, no queue.

Answers: the 0-based option index for `choice`, a list of indices for
`multi`, a number for `numeric` (a numeric string, as a form sends it, is
read too), a string for `text`. An answer of the wrong shape is an
`InvalidInputError` naming `answer`, never a wrong attempt.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from panlearn.errors import InvalidInputError
from panlearn.quizzes.questions import MAX_TEXT_ANSWER, Question, compile_pattern

#: Slack on tolerance limits, relative to the answer: 3.525 ± 0.005 accepts 3.530 despite
#: binary floating point.
_ROUNDING = 1e-9
_SPACES = re.compile(r"\s+")
_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+(?:[eE][+-]?\d+)?$")


@dataclass(frozen=True)
class Verdict:
    """How an answer scored: the fraction of the points (before penalties) and feedback."""

    fraction: float
    feedback: str | None

    @property
    def correct(self) -> bool:
        """Full marks (a partially right `multi` is not correct)."""
        return self.fraction >= 1.0 - 1e-12


def _bad(detail: str) -> InvalidInputError:
    return InvalidInputError(detail, errors={"answer": [detail]})


def normalise_answer(question: Question, answer: Any) -> Any:
    """The answer in canonical form (what is stored); raises InvalidInputError if malformed."""
    if question.type == "choice":
        return _index(answer, len(question.options))
    if question.type == "multi":
        if isinstance(answer, str | bytes) or not isinstance(answer, Sequence):
            raise _bad("Answer with a list of option indices (0-based).")
        indices = sorted({_index(item, len(question.options)) for item in answer})
        return indices
    if question.type == "numeric":
        return _number(answer)
    if not isinstance(answer, str):
        raise _bad("Answer with a string.")
    text = _SPACES.sub(" ", answer).strip()
    if not text:
        raise _bad("The answer is empty.")
    if len(text) > MAX_TEXT_ANSWER:
        raise _bad(f"The answer is longer than {MAX_TEXT_ANSWER} characters.")
    return text


def _index(value: Any, count: int) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad("Answer with an option's index (0-based).")
    if not 0 <= value < count:
        raise _bad(f"There is no option {value} (options are 0 to {count - 1}).")
    return value


def _number(value: Any) -> float:
    if isinstance(value, str):
        text = value.strip().replace("\u2212", "-")  # a typographic minus pasted from a page
        if _DECIMAL_COMMA.match(text):
            text = text.replace(",", ".")
        try:
            value = float(text)
        except ValueError:
            raise _bad("Answer with a number, like 3.52 or 1.2e-3.") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad("Answer with a number.")
    try:
        value = float(value)
    except OverflowError:  # an integer beyond any float
        raise _bad("Answer with a finite number.") from None
    if not math.isfinite(value):
        raise _bad("Answer with a finite number.")
    return value


def grade(question: Question, answer: Any) -> Verdict:
    """Grade an answer (canonical or not) to a question."""
    answer = normalise_answer(question, answer)
    if question.type == "choice":
        return _grade_choice(question, answer)
    if question.type == "multi":
        return _grade_multi(question, answer)
    if question.type == "numeric":
        return _general(question, 1.0 if _within(question, answer) else 0.0, None)
    return _general(question, 1.0 if _text_matches(question, answer) else 0.0, None)


def _general(question: Question, fraction: float, specific: str | None) -> Verdict:
    """Specific feedback first, else the question's feedback for right or wrong."""
    if specific:
        return Verdict(fraction, specific)
    return Verdict(fraction, question.feedback_correct if fraction >= 1.0 - 1e-12
                   else question.feedback_incorrect)


def _grade_choice(question: Question, index: int) -> Verdict:
    option = question.options[index]
    return _general(question, 1.0 if option.correct else 0.0, option.feedback)


def _grade_multi(question: Question, picked: list[int]) -> Verdict:
    correct = set(question.correct_indices())
    chosen = set(picked)
    if question.partial:
        # Like Moodle's multiple-answer questions: +1/k per right pick, -1/k per wrong one.
        hits = len(chosen & correct)
        misses = len(chosen - correct)
        fraction = max(0.0, (hits - misses) / len(correct))
    else:
        fraction = 1.0 if chosen == correct else 0.0
    notes = [question.options[i].feedback for i in sorted(chosen) if question.options[i].feedback]
    return _general(question, fraction, "\n\n".join(notes) if notes else None)


def _within(question: Question, value: float) -> bool:
    expected = float(question.answer or 0.0)
    if question.relative is not None:
        allowed = question.relative * abs(expected)
    else:
        allowed = question.tolerance or 0.0
    return abs(value - expected) <= allowed + _ROUNDING * max(1.0, abs(expected))


def _text_matches(question: Question, text: str) -> bool:
    if question.regex:
        return any(compile_pattern(pattern, ignore_case=question.ignore_case).fullmatch(text)
                   is not None for pattern in question.answers)
    accepted = (_SPACES.sub(" ", a).strip() for a in question.answers)
    if question.ignore_case:
        return text.casefold() in {a.casefold() for a in accepted}
    return text in set(accepted)


def awarded_points(question: Question, verdict: Verdict, earlier_imperfect: int) -> float:
    """Points for this attempt: the fraction, less the penalty for earlier imperfect attempts."""
    factor = max(0.0, 1.0 - question.penalty * earlier_imperfect)
    return round(question.points * verdict.fraction * factor, 6)

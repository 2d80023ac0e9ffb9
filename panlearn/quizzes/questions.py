"""A quiz question: its fields per type, validation, and the public view without answers.

Validation is strict (unknown keys are errors: a misspelt `corect` must not
silently make a question unanswerable) and collects every problem, each named
by its field (`options[1].correct`), so an author fixes a block in one pass.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import re2
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

#: Question types and what an answer to each is.
TYPES = ("choice", "multi", "numeric", "text")
#: Question ids: letters, digits, `_` and `-` (they appear in URLs and HTML ids).
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
#: Longest accepted text answer, in characters.
MAX_TEXT_ANSWER = 500

#: Fields of the public view (what a learner may see before answering): a whitelist,
#: so a field added later stays out of the student version until it is listed here.
PUBLIC_FIELDS = ("id", "type", "question", "points", "units", "partial", "attempts", "penalty")
# (`options` too, each with its `text` only.)


class QuestionError(ValueError):
    """A question block is invalid; `errors` maps each field to its messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))


@dataclass(frozen=True)
class Option:
    """One option of a `choice` or `multi` question."""

    text: str
    correct: bool = False
    feedback: str | None = None


@dataclass(frozen=True)
class Question:
    """A validated question, answer key included (never send this to a learner)."""

    id: str
    type: str
    question: str
    points: float = 1.0
    explanation: str | None = None
    #: Attempts allowed on this question; None: the course's `quiz_attempts` (or unlimited).
    attempts: int | None = None
    #: Fraction of the points lost for each earlier attempt that did not score in full.
    penalty: float = 0.0
    feedback_correct: str | None = None
    feedback_incorrect: str | None = None
    options: tuple[Option, ...] = ()
    #: `multi`: credit per right pick, less wrong picks, instead of all or nothing.
    partial: bool = False
    answer: float | None = None
    tolerance: float | None = None
    relative: float | None = None
    units: str | None = None
    answers: tuple[str, ...] = ()
    ignore_case: bool = False
    regex: bool = False

    def correct_indices(self) -> tuple[int, ...]:
        """0-based indices of the correct options."""
        return tuple(i for i, option in enumerate(self.options) if option.correct)

    def public(self) -> dict[str, Any]:
        """What a learner may see before answering: the question and options only."""
        data: dict[str, Any] = {"id": self.id, "type": self.type, "question": self.question,
                                "points": _number(self.points)}
        if self.options:
            data["options"] = [{"text": option.text} for option in self.options]
        if self.units:
            data["units"] = self.units
        if self.type == "multi" and self.partial:
            data["partial"] = True
        if self.attempts is not None:
            data["attempts"] = self.attempts
        if self.penalty:
            data["penalty"] = _number(self.penalty)
        return data

    def to_dict(self) -> dict[str, Any]:
        """The whole question as authored (YAML-ready), answer key included."""
        data: dict[str, Any] = {"id": self.id, "type": self.type, "question": self.question}
        if self.points != 1:
            data["points"] = _number(self.points)
        if self.options:
            data["options"] = []
            for option in self.options:
                item: dict[str, Any] = {"text": option.text}
                if option.correct:
                    item["correct"] = True
                if option.feedback:
                    item["feedback"] = option.feedback
                data["options"].append(item)
        if self.type == "multi" and self.partial:
            data["partial"] = True
        for name in ("answer", "tolerance", "relative"):
            value = getattr(self, name)
            if value is not None:
                data[name] = _number(value)
        if self.units:
            data["units"] = self.units
        if self.answers:
            data["answers"] = list(self.answers)
        if self.ignore_case:
            data["ignore_case"] = True
        if self.regex:
            data["regex"] = True
        for name in ("feedback_correct", "feedback_incorrect", "explanation"):
            if getattr(self, name):
                data[name] = getattr(self, name)
        if self.attempts is not None:
            data["attempts"] = self.attempts
        if self.penalty:
            data["penalty"] = _number(self.penalty)
        return data


def _number(value: float) -> float | int:
    """An integral float as an int (YAML and JSON stay as the author wrote them)."""
    return int(value) if float(value).is_integer() and abs(value) < 2**53 else value


def compile_pattern(pattern: str, *, ignore_case: bool) -> Any:
    """Compile an accepted-answer pattern with RE2 (linear time: no answer can stall it).

    Raises `ValueError` with RE2's reason for a pattern RE2 cannot run
    (back-references, look-around).
    """
    options = re2.Options()
    options.log_errors = False
    options.case_sensitive = not ignore_case
    try:
        return re2.compile(pattern, options)
    except re2.error as error:
        reason = error.args[0] if error.args else error
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise ValueError(str(reason)) from None


# -- schema -----------------------------------------------------------------------------------


class _Strict(Schema):
    class Meta:
        """Unknown keys are errors: a misspelt key must not change a question silently."""

        unknown = RAISE


def _finite(value: float) -> None:
    if not math.isfinite(value):
        raise ValidationError("must be a finite number")


class Text(fields.String):
    """Text an author wrote in YAML: numbers are taken as text, yes/no are a mistake.

    YAML reads `text: 42` as a number (meant as text) and unquoted `yes`, `no`,
    `on`, `off` as booleans (never meant as text), so the latter get a hint.
    """

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, bool):
            raise ValidationError("YAML read this as true/false: put the text in quotes")
        if isinstance(value, int | float):
            value = str(value)
        return super()._deserialize(value, attr, data, **kwargs)


class OptionSchema(_Strict):
    """An option of a choice or multi question."""

    text = Text(required=True, validate=validate.Length(min=1))
    correct = fields.Boolean(load_default=False)
    feedback = Text(load_default=None, allow_none=True)


class QuestionSchema(_Strict):
    """Fields every question has."""

    id = fields.String(required=True, validate=validate.Regexp(
        ID_RE, error="letters, digits, _ and - (at most 64), starting with a letter or digit"))
    type = fields.String(required=True, validate=validate.OneOf(TYPES))
    question = Text(required=True, validate=validate.Length(min=1))
    points = fields.Float(load_default=1.0, validate=[validate.Range(min=0, min_inclusive=False),
                                                      _finite])
    explanation = Text(load_default=None, allow_none=True)
    attempts = fields.Integer(load_default=None, allow_none=True, strict=True,
                              validate=validate.Range(min=1))
    penalty = fields.Float(load_default=0.0, validate=validate.Range(min=0, max=1))
    feedback_correct = Text(load_default=None, allow_none=True)
    feedback_incorrect = Text(load_default=None, allow_none=True)


class ChoiceSchema(QuestionSchema):
    """`choice`: exactly one correct option."""

    options = fields.List(fields.Nested(OptionSchema), required=True,
                          validate=validate.Length(min=2, error="give at least two options"))

    @validates_schema
    def _one_correct(self, data: dict[str, Any], **_: Any) -> None:
        correct = sum(option["correct"] for option in data.get("options", []))
        if correct != 1:
            raise ValidationError(f"exactly one option needs `correct: true` (found {correct}); "
                                  "use type `multi` for several", "options")


class MultiSchema(QuestionSchema):
    """`multi`: one or more correct options, optionally with partial credit."""

    options = fields.List(fields.Nested(OptionSchema), required=True,
                          validate=validate.Length(min=2, error="give at least two options"))
    partial = fields.Boolean(load_default=False)

    @validates_schema
    def _some_correct(self, data: dict[str, Any], **_: Any) -> None:
        if not any(option["correct"] for option in data.get("options", [])):
            raise ValidationError("at least one option needs `correct: true`", "options")


class NumericSchema(QuestionSchema):
    """`numeric`: a number, within an absolute or a relative tolerance."""

    answer = fields.Float(required=True, validate=_finite)
    tolerance = fields.Float(load_default=None, allow_none=True,
                             validate=[validate.Range(min=0), _finite])
    relative = fields.Float(load_default=None, allow_none=True,
                            validate=[validate.Range(min=0, max=1), _finite])
    units = Text(load_default=None, allow_none=True)

    @validates_schema
    def _one_tolerance(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("tolerance") is not None and data.get("relative") is not None:
            raise ValidationError("give `tolerance` (absolute) or `relative`, not both",
                                  "relative")


class TextSchema(QuestionSchema):
    """`text`: accepted answers, optionally ignoring case or as regular expressions."""

    answers = fields.List(Text(validate=validate.Length(min=1)), required=True,
                          validate=validate.Length(min=1, error="give at least one answer"))
    ignore_case = fields.Boolean(load_default=False)
    regex = fields.Boolean(load_default=False)

    @validates_schema
    def _patterns_compile(self, data: dict[str, Any], **_: Any) -> None:
        if not data.get("regex"):
            return
        errors: dict[str, list[str]] = {}
        for index, pattern in enumerate(data.get("answers", [])):
            try:
                compile_pattern(pattern, ignore_case=data.get("ignore_case", False))
            except ValueError as error:
                errors[f"answers[{index}]"] = [f"not a regular expression RE2 can run: {error}"]
        if errors:
            raise ValidationError(errors)


_SCHEMAS: dict[str, type[QuestionSchema]] = {
    "choice": ChoiceSchema, "multi": MultiSchema, "numeric": NumericSchema, "text": TextSchema,
}


def _flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Marshmallow's nested messages as `options[1].correct` → messages."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            if isinstance(key, int):
                name = f"{prefix}[{key}]"
            elif key == "_schema":
                name = prefix or "question"
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
            for path, found in _flatten(value, name).items():
                out.setdefault(path, []).extend(found)
        return out
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return {prefix or "question": list(messages)}
    if isinstance(messages, list):
        for item in messages:
            for path, found in _flatten(item, prefix).items():
                out.setdefault(path, []).extend(found)
        return out
    return {prefix or "question": [str(messages)]}


def parse_question(data: Any) -> Question:
    """Validate one question (parsed YAML) and return it; `QuestionError` names each problem."""
    if not isinstance(data, dict):
        raise QuestionError({"question": ["a quiz block holds one YAML mapping of fields"]})
    kind = data.get("type")
    if kind not in _SCHEMAS:
        schema: Schema = QuestionSchema()
    else:
        schema = _SCHEMAS[kind]()
    try:
        loaded = schema.load(data)
    except ValidationError as error:
        raise QuestionError(_flatten(error.messages)) from None
    if kind not in _SCHEMAS:  # the base schema accepted a bad type: OneOf reported it
        raise QuestionError({"type": [f"must be one of {', '.join(TYPES)}"]})
    options = tuple(Option(o["text"], o["correct"], o.get("feedback"))
                    for o in loaded.get("options", []))
    return Question(
        id=loaded["id"], type=kind, question=loaded["question"], points=loaded["points"],
        explanation=loaded.get("explanation"), attempts=loaded.get("attempts"),
        penalty=loaded.get("penalty", 0.0), feedback_correct=loaded.get("feedback_correct"),
        feedback_incorrect=loaded.get("feedback_incorrect"), options=options,
        partial=loaded.get("partial", False), answer=loaded.get("answer"),
        tolerance=loaded.get("tolerance"), relative=loaded.get("relative"),
        units=loaded.get("units"), answers=tuple(loaded.get("answers", ())),
        ignore_case=loaded.get("ignore_case", False), regex=loaded.get("regex", False),
    )

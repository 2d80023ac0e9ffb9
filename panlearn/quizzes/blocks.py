"""```quiz blocks in markdown cells: finding them, reading them, and stripping their answers.

A block is a fenced code block (CommonMark: three or more backticks or tildes,
indented at most three spaces) whose info string is `quiz`; it holds one
question as YAML. A fence inside another fence is code, not a question.

`strip_answer_keys` is the step of the student version: it rewrites every
block to the question's public view (question, options, points, units). It
fails closed: a block it cannot read becomes a note without content, and an
unclosed block is closed, so a malformed question never shows its answers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from panlearn.quizzes.questions import (
    ID_RE,
    PUBLIC_FIELDS,
    Question,
    QuestionError,
    parse_question,
)

_OPEN = re.compile(r"^( {0,3})(`{3,}|~{3,})(.*)$")
#: What a block that could not be read becomes in the student version.
UNREADABLE = "# This question could not be read; ask the course's authors.\n"


@dataclass(frozen=True)
class QuizBlock:
    """A ```quiz block: its fence lines (0-based, `end` is the closing fence) and its YAML."""

    start: int
    end: int
    body: str
    fence: str
    closed: bool


@dataclass(frozen=True)
class LocatedQuestion:
    """A question and where it is in its notebook."""

    question: Question
    cell_index: int
    cell_id: str
    position: int


def _is_quiz_info(info: str) -> bool:
    words = info.strip().split()
    return bool(words) and words[0] == "quiz"


def _closes(line: str, fence: str) -> bool:
    stripped = line.strip()
    indent = len(line) - len(line.lstrip(" "))
    return (indent <= 3 and len(stripped) >= len(fence) and set(stripped) == {fence[0]})


def find_blocks(source: str) -> list[QuizBlock]:
    """Every ```quiz block of a markdown text, in order."""
    lines = source.split("\n")
    blocks: list[QuizBlock] = []
    index = 0
    while index < len(lines):
        opening = _OPEN.match(lines[index])
        if opening is None or (opening.group(2)[0] == "`" and "`" in opening.group(3)):
            index += 1
            continue
        fence = opening.group(2)
        end = index + 1
        while end < len(lines) and not _closes(lines[end], fence):
            end += 1
        closed = end < len(lines)
        if _is_quiz_info(opening.group(3)):
            blocks.append(QuizBlock(start=index, end=end, body="\n".join(lines[index + 1:end]),
                                    fence=fence, closed=closed))
        index = end + 1
    return blocks


def split_markdown(source: str) -> Iterator[tuple[str, str]]:
    """The text between blocks as ("markdown", text) and each block as ("quiz", id).

    The id is "" when the block holds no readable question id (then the page
    shows nothing for it). Used by the lesson template to put a marker where
    each question goes.
    """
    lines = source.split("\n")
    previous = 0
    for block in find_blocks(source):
        if block.start > previous:
            yield "markdown", "\n".join(lines[previous:block.start])
        yield "quiz", block_id(block.body)
        previous = block.end + 1
    if previous < len(lines):
        yield "markdown", "\n".join(lines[previous:])


def block_id(body: str) -> str:
    """The question id a block names, or "" when it names no valid one."""
    try:
        data = yaml.safe_load(body)
    except yaml.YAMLError:
        return ""
    value = data.get("id") if isinstance(data, dict) else None
    return value if isinstance(value, str) and ID_RE.match(value) else ""


def has_quizzes(nb: Mapping[str, Any]) -> bool:
    """Whether any markdown cell holds a ```quiz block."""
    return any(cell.get("cell_type") == "markdown" and find_blocks(str(cell.get("source", "")))
               for cell in nb.get("cells", []))


def read_questions(nb: Mapping[str, Any]) -> tuple[list[LocatedQuestion], dict[str, list[str]]]:
    """A notebook's questions in order, and its problems by field.

    Fields are named `cells[3].quiz[embargo].options[1].correct` (the cell's
    index, then the question id, or the block's number in the cell when the id
    is unusable), so an author finds every problem at once.
    """
    found: list[LocatedQuestion] = []
    problems: dict[str, list[str]] = {}
    seen: dict[str, str] = {}
    for index, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "markdown":
            continue
        cell_id = str(cell.get("id", ""))
        for number, block in enumerate(find_blocks(str(cell.get("source", "")))):
            where = f"cells[{index}].quiz[{block_id(block.body) or number}]"
            if not block.closed:
                problems.setdefault(where, []).append(
                    f"the ```quiz block has no closing {block.fence}")
            try:
                data = yaml.safe_load(block.body)
            except yaml.YAMLError as error:
                mark = getattr(error, "problem_mark", None)
                line = f" (line {mark.line + 1} of the block)" if mark is not None else ""
                reason = getattr(error, "problem", None) or str(error)
                problems.setdefault(where, []).append(f"YAML syntax error{line}: {reason}")
                continue
            try:
                question = parse_question(data)
            except QuestionError as error:
                for name, messages in error.errors.items():
                    problems.setdefault(f"{where}.{name}", []).extend(messages)
                continue
            if question.id in seen:
                problems.setdefault(f"{where}.id", []).append(
                    f"duplicate question id {question.id!r} (also {seen[question.id]})")
                continue
            seen[question.id] = where
            found.append(LocatedQuestion(question, index, cell_id, len(found)))
    return found, problems


class _BlockDumper(yaml.SafeDumper):
    """YAML as an author writes it: multi-line text as literal blocks."""


def _str_presenter(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _str_presenter)


def dump_question(data: Mapping[str, Any]) -> str:
    """A question mapping as the YAML of a block (keys in the given order)."""
    return yaml.dump(dict(data), Dumper=_BlockDumper, sort_keys=False, allow_unicode=True,
                     default_flow_style=False, width=100)


def quiz_cell_source(question: Question) -> str:
    """A markdown cell's source holding one question (for importers)."""
    return "```quiz\n" + dump_question(question.to_dict()) + "```"


def _public_body(body: str) -> str:
    try:
        data = yaml.safe_load(body)
    except yaml.YAMLError:
        return UNREADABLE
    try:
        return dump_question(parse_question(data).public())
    except QuestionError:
        # Not a whole question: already a public view (stripping twice), or broken.
        # Copy only public fields, so nothing else can come through either way.
        public = _public_fields(data)
        return dump_question(public) if public else UNREADABLE


def _public_fields(data: Any) -> dict[str, Any] | None:
    """The whitelisted fields of a question mapping that is not a valid question."""
    if not isinstance(data, dict) or not isinstance(data.get("id"), str) \
            or not ID_RE.match(data["id"]) or not isinstance(data.get("question"), str):
        return None
    public: dict[str, Any] = {}
    for name in PUBLIC_FIELDS:  # in the order of `Question.public()`
        value = data.get(name)
        if isinstance(value, str | int | float) and not isinstance(value, bool) \
                or name == "partial" and value is True:
            public[name] = value
        options = data.get("options")
        if name == "points" and isinstance(options, list):
            public["options"] = [{"text": str(item["text"])} for item in options
                                 if isinstance(item, dict)
                                 and isinstance(item.get("text"), str | int | float)]
    return public


def strip_quiz_source(source: str) -> str:
    """A markdown text with every ```quiz block rewritten to its public view."""
    blocks = find_blocks(source)
    if not blocks:
        return source
    lines = source.split("\n")
    for block in reversed(blocks):
        opening = lines[block.start]
        body = _public_body(block.body).rstrip("\n").split("\n")
        closing = lines[block.end] if block.closed else block.fence
        lines[block.start:block.end + 1] = [opening, *body, closing]
    return "\n".join(lines)


def strip_answer_keys(nb: Any) -> None:
    """Rewrite, in place, every ```quiz block of the notebook to its public view.

    The step of the student version: options keep their order (answers are
    option indices) but lose `correct` and `feedback`; `answer`, `tolerance`,
    `relative`, accepted answers, feedback and `explanation` are dropped.
    """
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            source = str(cell.get("source", ""))
            stripped = strip_quiz_source(source)
            if stripped != source:
                cell["source"] = stripped


def append_questions(nb: Any, questions: list[Question]) -> list[str]:
    """Add one markdown cell per question to a notebook; returns the ids given.

    An id already used in the notebook gets a numeric suffix, so the notebook
    stays valid.
    """
    from nbformat.v4 import new_markdown_cell

    taken = {item.question.id for item in read_questions(nb)[0]}
    given = []
    for question in questions:
        ident, number = question.id, 2
        while ident in taken:
            ident, number = f"{question.id}-{number}", number + 1
        taken.add(ident)
        if ident != question.id:
            question = parse_question({**question.to_dict(), "id": ident})
        nb.cells.append(new_markdown_cell(quiz_cell_source(question)))
        given.append(ident)
    return given

"""Reading ```quiz blocks: validation of each type names the cell and field; stripping."""

from __future__ import annotations

import pytest
import yaml
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from panlearn.notebooks.student import make_student_version
from panlearn.quizzes.blocks import (
    UNREADABLE,
    find_blocks,
    read_questions,
    split_markdown,
    strip_answer_keys,
    strip_quiz_source,
)
from tests.builders import quiz_notebook


def problems_of(body: str, fence: str = "```") -> dict[str, list[str]]:
    notebook = new_notebook(cells=[new_markdown_cell("# T"),
                                   new_markdown_cell(f"{fence}quiz\n{body}\n{fence}")])
    return read_questions(notebook)[1]


def test_every_type_of_the_builder_reads_back_with_its_fields():
    found, problems = read_questions(quiz_notebook())
    assert problems == {}
    by_id = {item.question.id: item.question for item in found}
    assert by_id["embargo"].correct_indices() == (1,) and by_id["embargo"].points == 1
    assert by_id["wavelength-fields"].partial and by_id["wavelength-fields"].points == 2
    assert by_id["d-spacing"].answer == 3.5254 and by_id["d-spacing"].units == "Å"
    assert by_id["entry-class"].ignore_case and by_id["entry-class"].attempts == 2
    assert [item.cell_index for item in found] == [1, 2, 3, 4]


@pytest.mark.parametrize(("body", "field", "fragment"), [
    # every question
    ("type: choice\nquestion: Q\noptions: [{text: a, correct: true}, {text: b}]",
     "cells[1].quiz[0].id", "Missing data"),
    ("id: 'bad id!'\ntype: choice\nquestion: Q\noptions: [{text: a, correct: true}, {text: b}]",
     "cells[1].quiz[0].id", "letters, digits"),
    ("id: q\ntype: essay\nquestion: Q", "cells[1].quiz[q].type", "Must be one of"),
    ("id: q\ntype: choice\nquestion: Q\npoints: 0\noptions: [{text: a, correct: true}, "
     "{text: b}]", "cells[1].quiz[q].points", "greater than 0"),
    ("id: q\ntype: choice\nquestion: Q\nexplaination: x\n"
     "options: [{text: a, correct: true}, {text: b}]", "cells[1].quiz[q].explaination",
     "Unknown field"),
    ("id: q\ntype: choice\nquestion: Q\nattempts: 0\n"
     "options: [{text: a, correct: true}, {text: b}]", "cells[1].quiz[q].attempts",
     "greater than or equal to 1"),
    # choice
    ("id: q\ntype: choice\nquestion: Q\noptions: [{text: a, correct: true}, "
     "{text: b, correct: true}]", "cells[1].quiz[q].options", "exactly one option"),
    ("id: q\ntype: choice\nquestion: Q\noptions: [{text: a, correct: true}]",
     "cells[1].quiz[q].options", "at least two options"),
    ("id: q\ntype: choice\nquestion: Q\noptions: [{text: a, corect: true}, {text: b}]",
     "cells[1].quiz[q].options[0].corect", "Unknown field"),
    ("id: q\ntype: choice\nquestion: Q\noptions: [{text: a, correct: true, feedback: yes}, "
     "{text: b}]", "cells[1].quiz[q].options[0].feedback", "put the text in quotes"),
    # multi
    ("id: q\ntype: multi\nquestion: Q\noptions: [{text: a}, {text: b}]",
     "cells[1].quiz[q].options", "at least one option"),
    # numeric
    ("id: q\ntype: numeric\nquestion: Q\ntolerance: 0.1", "cells[1].quiz[q].answer",
     "Missing data"),
    ("id: q\ntype: numeric\nquestion: Q\nanswer: 1\ntolerance: 0.1\nrelative: 0.01",
     "cells[1].quiz[q].relative", "not both"),
    ("id: q\ntype: numeric\nquestion: Q\nanswer: 1\ntolerance: -1",
     "cells[1].quiz[q].tolerance", "greater than or equal to 0"),
    ("id: q\ntype: numeric\nquestion: Q\nanswer: .nan", "cells[1].quiz[q].answer",
     "nan or infinity"),
    # text
    ("id: q\ntype: text\nquestion: Q\nanswers: []", "cells[1].quiz[q].answers",
     "at least one answer"),
    ("id: q\ntype: text\nquestion: Q\nregex: true\nanswers: ['(a)\\1']",
     "cells[1].quiz[q].answers[0]", "RE2"),
    # the block itself
    ("id: q\ntype: [choice", "cells[1].quiz[0]", "YAML syntax error (line"),
    ("- just\n- a list", "cells[1].quiz[0].question", "one YAML mapping"),
])
def test_each_problem_is_named_by_cell_question_and_field(body, field, fragment):
    problems = problems_of(body)
    assert field in problems, problems
    assert any(fragment in message for message in problems[field]), problems[field]


def test_duplicate_ids_and_unclosed_blocks_are_problems():
    body = "id: q\ntype: text\nquestion: Q\nanswers: [a]\n"
    notebook = new_notebook(cells=[new_markdown_cell(f"```quiz\n{body}```"),
                                   new_markdown_cell(f"```quiz\n{body}```\n\n```quiz\n{body}")])
    found, problems = read_questions(notebook)
    assert len(found) == 1
    assert "duplicate question id 'q'" in problems["cells[1].quiz[q].id"][0]
    assert "no closing" in problems["cells[1].quiz[q]"][0]


def test_only_quiz_fences_count_and_a_quiz_fence_inside_another_fence_is_code():
    source = ("```python\n```quiz\nid: no\n```\n\n~~~~ quiz extra words\nid: kept\n~~~~\n\n"
              "````markdown\n```quiz\nid: inner\n```\n````\n\n   ```quiz\nid: indented\n```")
    assert [b.body for b in find_blocks(source)] == ["id: kept", "id: indented"]
    assert [s for s in split_markdown(source) if s[0] == "quiz"] == [
        ("quiz", "kept"), ("quiz", "indented")]
    assert find_blocks("    ```quiz\nid: code\n    ```") == []  # indented code, not a fence


def test_code_cells_never_hold_questions():
    notebook = new_notebook(cells=[new_code_cell("```quiz\nid: q\n```")])
    assert read_questions(notebook) == ([], {})


def test_the_student_version_keeps_question_and_options_and_drops_every_key():
    student = make_student_version(quiz_notebook())
    blocks = [yaml.safe_load(block.body) for cell in student.cells
              for block in find_blocks(cell.source)]
    assert blocks == [
        {"id": "embargo", "type": "choice",
         "question": "How long may data stay under **embargo** by default?", "points": 1,
         "options": [{"text": "Never"}, {"text": "Three years"}, {"text": "Forever"}]},
        {"id": "wavelength-fields", "type": "multi",
         "question": "Which fields of `dmc01.h5` hold the wavelength?", "points": 2,
         "options": [{"text": "/entry1/data1/lambda"}, {"text": "/entry1/DMC/Monochromator/lambda"},
                     {"text": "/entry1/sample/sample_temperature"}], "partial": True},
        {"id": "d-spacing", "type": "numeric",
         "question": "What is the d-spacing for $2\\theta = 42.7°$ at $\\lambda = 2.5666$ Å?",
         "points": 1, "units": "Å"},
        {"id": "entry-class", "type": "text",
         "question": "Which NX_class does the top group of a NeXus file have?", "points": 1,
         "attempts": 2},
    ]
    text = "".join(cell.source for cell in student.cells)
    assert "Question text before." in text and "After." in text
    # Idempotent: the student version of the student version is the same.
    assert make_student_version(student) == student
    assert quiz_notebook().cells[1].source != student.cells[1].source  # the input is unchanged


def test_stripping_fails_closed_on_blocks_it_cannot_read():
    broken = "Intro\n\n```quiz\nid: q\nanswer: 42\ntype: [oops\n```\n\nOutro"
    assert strip_quiz_source(broken) == f"Intro\n\n```quiz\n{UNREADABLE.rstrip()}\n```\n\nOutro"
    invalid = "```quiz\nid: q\ntype: numeric\nquestion: Q\nanswer: 42\nrelative: 2\n```"
    assert "42" not in strip_quiz_source(invalid).replace("id: q", "")
    unclosed = "```quiz\nid: q\ntype: text\nquestion: Q\nanswers: [SECRET]\n"
    stripped = strip_quiz_source(unclosed)
    assert "SECRET" not in stripped and stripped.endswith("```")
    notebook = new_notebook(cells=[new_markdown_cell(broken)])
    strip_answer_keys(notebook)
    assert "42" not in notebook.cells[0].source

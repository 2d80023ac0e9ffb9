"""No solution and no hidden check reaches a student, through any route.

An exercise carries unique markers in every place an answer can hide: code
and markdown solution regions, a solution cell without markers, hidden tests,
a mark scheme, the outputs of solution and check cells (text and a figure),
answer keys in cell metadata, and the answer keys of ```quiz questions (the
correct options, option feedback, explanations, numeric answers and
tolerances, accepted texts and patterns). Every page, embed (whole and per cell, cell
and output), slide deck, oEmbed answer, thumbnail and API response is fetched
as an anonymous visitor, as a signed-in student (cookie) and as a student
with a bearer token, and none may contain any marker. The author's source
download proves the markers are really there.
"""

from __future__ import annotations

import base64

import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from tests.builders import code, make_user, nbgrader, token_for, write_course
from tests.web.conftest import (
    ensure_psi,
    import_folder,
    lesson_cells,
    lesson_ids,
    png_bytes,
    sign_in,
)

SECRET_PNG = png_bytes(9, 7)
VISIBLE_PNG = png_bytes(64, 48)

MARKERS = {
    "code solution": "SOLUTION_CODE_q7Zk",
    "solution cell without markers": "WHOLE_CELL_SOLUTION_q7Zk",
    "markdown solution": "MARKDOWN_ANSWER_q7Zk",
    "hidden test": "HIDDEN_TEST_q7Zk",
    "mark scheme": "MARK_SCHEME_q7Zk",
    "solution output": "SOLUTION_OUTPUT_q7Zk",
    "check output": "CHECK_OUTPUT_q7Zk",
    "answer key in metadata": "ANSWER_KEY_q7Zk",
    "solution figure": base64.b64encode(SECRET_PNG).decode()[:40],
    "quiz option feedback": "QUIZ_OPTION_FEEDBACK_q7Zk",
    "quiz explanation": "QUIZ_EXPLANATION_q7Zk",
    "quiz feedback": "QUIZ_FEEDBACK_q7Zk",
    "quiz numeric answer": "7.3141592",
    "quiz tolerance": "0.0271828",
    "quiz accepted text": "QUIZACCEPTED_q7Zk",
    "quiz correct flag": "correct: true",
}

QUIZZES = f"""Answer these.

```quiz
id: secret-choice
type: choice
question: Which one?
options:
  - text: This one
    correct: true
    feedback: {MARKERS['quiz option feedback']}
  - text: That one
explanation: {MARKERS['quiz explanation']}
```

```quiz
id: secret-number
type: numeric
question: How much?
answer: {MARKERS['quiz numeric answer']}
tolerance: {MARKERS['quiz tolerance']}
units: Å
feedback_incorrect: {MARKERS['quiz feedback']}
```

````quiz
id: secret-text
type: text
question: Which word?
answers: ['{MARKERS['quiz accepted text']}', '^QUIZ.*q7Zk$']
regex: true
````
"""


def secret_exercise():
    """An nbgrader exercise hiding every marker where a student must not see it."""
    def slide(cell):
        cell.metadata["slideshow"] = {"slide_type": "slide"}
        return cell

    intro = slide(new_markdown_cell("# Secret exercise\n\nFind $d$ from $2d\\sin\\theta$."))
    solution = slide(code(
        f"x = 1\n### BEGIN SOLUTION\nanswer = '{MARKERS['code solution']}'\n### END SOLUTION",
        grade_id="answer", solution=True, execution_count=1,
        outputs=[new_output("stream", name="stdout", text=MARKERS["solution output"] + "\n"),
                 new_output("display_data", data={
                     "image/png": base64.b64encode(SECRET_PNG).decode(),
                     "text/plain": "<Figure>"})],
    ))
    solution.metadata["panlearn"] = {"answer_key": MARKERS["answer key in metadata"]}
    whole = slide(code(f"other = '{MARKERS['solution cell without markers']}'",
                       grade_id="whole", solution=True))
    prose = slide(new_markdown_cell(
        f"Explain.\n\n### BEGIN SOLUTION\n{MARKERS['markdown solution']}\n### END SOLUTION",
        metadata=nbgrader(solution=True, grade_id="explain")))
    check = slide(code(
        "assert answer\n### BEGIN HIDDEN TESTS\n"
        f"assert answer == '{MARKERS['hidden test']}'\n### END HIDDEN TESTS",
        grade_id="check-answer", points=2, execution_count=2,
        outputs=[new_output("stream", name="stdout", text=MARKERS["check output"] + "\n")],
    ))
    scheme = slide(new_markdown_cell(
        f"Marking.\n\n### BEGIN MARK SCHEME\n{MARKERS['mark scheme']}\n### END MARK SCHEME",
        metadata=nbgrader(grade=True, grade_id="scheme", points=1, locked=True)))
    quizzes = slide(new_markdown_cell(QUIZZES))
    return new_notebook(cells=[intro, solution, whole, prose, check, scheme, quizzes,
                               slide(figure_cell())])


def figure_cell():
    """A visible figure: the thumbnail of the lesson."""
    return new_code_cell("plot()", execution_count=3, outputs=[new_output(
        "display_data", data={"image/png": base64.b64encode(VISIBLE_PNG).decode(),
                              "text/plain": "<Figure>"})])


@pytest.fixture
def secret(app, tmp_path):
    """A published course `secret` with a reading and the secret exercise; its lesson ids."""
    ensure_psi(app)
    make_user(app, "student")
    make_user(app, "author", "author", "psi")
    write_course(tmp_path / "src", "secret",
                 notebooks={"01-read.ipynb": new_notebook(cells=[new_markdown_cell("# Read"),
                                                                      figure_cell()]),
                            "02-exercise.ipynb": secret_exercise()},
                 modules=[{"title": "All", "lessons": [
                     {"notebook": "01-read.ipynb"},
                     {"notebook": "02-exercise.ipynb", "kind": "exercise"}]}])
    import_folder(app, tmp_path / "src")
    return lesson_ids(app, "secret")


def _urls(app, lessons):
    urls = ["/", "/?technique=powder+diffraction", "/courses/secret", "/api/courses",
            "/api/courses/secret"]
    for lesson in lessons:
        page = f"http://localhost/lessons/{lesson}"
        urls += [f"/lessons/{lesson}", f"/embed/lessons/{lesson}", f"/lessons/{lesson}/slides",
                 f"/lessons/{lesson}/thumbnail.png", f"/oembed?url={page}",
                 f"/oembed?url={page}/slides", f"/api/lessons/{lesson}",
                 f"/api/lessons/{lesson}/notebook"]
        for cell in lesson_cells(app, lesson):
            urls += [f"/embed/lessons/{lesson}?cell={cell}",
                     f"/embed/lessons/{lesson}?cell={cell}&part=output"]
    return urls


def _leaks(body: bytes) -> list[str]:
    text = body.decode("utf-8", "replace")
    return [name for name, marker in MARKERS.items() if marker in text]


def test_markers_are_in_the_source_so_the_check_below_means_something(app, client, secret):
    source = client.get(f"/api/lessons/{secret[1]}/notebook?version=source",
                        headers=token_for(client, "author"))
    assert source.status_code == 200
    assert sorted(_leaks(source.data)) == sorted(MARKERS)


@pytest.mark.parametrize("viewer", ["anonymous", "student-cookie", "student-token"])
def test_no_route_shows_a_solution_or_hidden_check(app, client, secret, viewer):
    headers = {}
    if viewer == "student-cookie":
        sign_in(client, "student")
    elif viewer == "student-token":
        headers = token_for(client, "student")
    checked = 0
    for url in _urls(app, secret):
        response = client.get(url, headers=headers)
        assert response.status_code == 200, (url, response.status_code)
        assert _leaks(response.data) == [], (viewer, url)
        checked += 1
    assert checked >= 39
    # The thumbnail is the visible figure, never the solution's.
    thumbnail = client.get(f"/lessons/{secret[1]}/thumbnail.png", headers=headers)
    assert thumbnail.data == VISIBLE_PNG
    # And the student version still has the exercise's structure.
    student = client.get(f"/api/lessons/{secret[1]}/notebook", headers=headers).get_data(
        as_text=True)
    assert "YOUR CODE HERE" in student and "check-answer" in student
    # The questions are there, with their options and units, for the learner to answer.
    assert "secret-choice" in student and "This one" in student and "units: Å" in student

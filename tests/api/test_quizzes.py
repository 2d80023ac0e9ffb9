"""Quiz questions through the API: answering, attempt limits, penalties, completion, analytics."""

from __future__ import annotations

import pytest

from panlearn.authoring.folder import load_course_folders
from panlearn.authoring.service import import_courses
from panlearn.extensions import db
from panlearn.wiring import services_of
from tests.api.test_progress import enrol, graded_submission, lessons_of
from tests.builders import (
    QUIZ_BLOCKS,
    exercise_notebook,
    make_org,
    make_user,
    quiz_notebook,
    reading_notebook,
    token_for,
    write_course,
)


def import_quiz_course(app, root, slug="quizzed", *, blocks=None, exercise_blocks=None,
                       **overrides):
    """A published course: a reading with questions, an exercise, and a plain reading."""
    exercise = exercise_notebook()
    if exercise_blocks:
        exercise.cells.extend(quiz_notebook(exercise_blocks, title="More").cells[1:])
    folder = write_course(root, slug, notebooks={
        "01-read.ipynb": quiz_notebook(blocks), "02-exercise.ipynb": exercise,
        "03-more.ipynb": reading_notebook("Reading two")}, **overrides)
    with app.app_context():
        import_courses(db.session, load_course_folders(folder), publish=True,
                       after_commit=services_of(app).course_hooks)
    return folder


@pytest.fixture
def quizzed(app, client, tmp_path):
    """The `quizzed` course (psi), with a student, another student and the course's author."""
    make_org(app, "psi")
    for name in ("student", "other"):
        make_user(app, name)
    make_user(app, "author", "author", "psi")
    import_quiz_course(app, tmp_path, quiz_attempts=3)
    lessons = lessons_of(client, "quizzed")
    return {"lesson": lessons["01-read"]["id"], "exercise": lessons["02-exercise"],
            "more": lessons["03-more"]["id"],
            **{name: token_for(client, name) for name in ("student", "other", "author")}}


def answer(client, headers, lesson, question, value):
    return client.post(f"/api/quizzes/{lesson}/{question}/answers", json={"answer": value},
                       headers=headers)


def test_a_right_choice_is_graded_at_once_with_its_feedback_and_explanation(client, quizzed):
    response = answer(client, quizzed["student"], quizzed["lesson"], "embargo", 1)
    assert response.status_code == 201
    body = response.get_json()
    assert body["correct"] is True and body["points"] == 1 and body["max_points"] == 1
    assert body["feedback"] == "SECRET-OPTION-FEEDBACK"
    assert body["explanation"].startswith("SECRET-EXPLANATION")
    assert body["attempt"] == 1 and body["attempts_left"] == 2


def test_a_wrong_choice_keeps_the_explanation_until_the_question_is_finished(client, quizzed):
    body = answer(client, quizzed["student"], quizzed["lesson"], "embargo", 0).get_json()
    assert body["correct"] is False and body["points"] == 0
    assert body["feedback"] == "Most policies allow an embargo."
    assert body["explanation"] is None
    answer(client, quizzed["student"], quizzed["lesson"], "embargo", 2)
    last = answer(client, quizzed["student"], quizzed["lesson"], "embargo", 2).get_json()
    assert last["attempts_left"] == 0 and last["explanation"].startswith("SECRET-EXPLANATION")


def test_the_attempt_limit_of_the_course_and_of_a_question_hold(client, quizzed):
    for _ in range(3):  # course.yml: quiz_attempts: 3
        assert answer(client, quizzed["student"], quizzed["lesson"], "embargo", 0).status_code \
            == 201
    refused = answer(client, quizzed["student"], quizzed["lesson"], "embargo", 1)
    assert refused.status_code == 409
    assert refused.mimetype == "application/problem+json"
    assert "No attempts left" in refused.get_json()["detail"]
    # `attempts: 2` on the question wins over the course's 3.
    for expected in (1, 0):
        body = answer(client, quizzed["student"], quizzed["lesson"], "entry-class", "x").get_json()
        assert body["attempts_left"] == expected
    assert answer(client, quizzed["student"], quizzed["lesson"], "entry-class",
                  "NXentry").status_code == 409
    # Another learner has their own attempts.
    assert answer(client, quizzed["other"], quizzed["lesson"], "embargo", 1).get_json()["correct"]


def test_multi_partial_credit_numeric_tolerance_and_text_case(client, quizzed):
    lesson, student = quizzed["lesson"], quizzed["student"]
    partly = answer(client, student, lesson, "wavelength-fields", [0]).get_json()
    assert partly["correct"] is False and partly["points"] == pytest.approx(1.0)
    assert answer(client, quizzed["other"], lesson, "wavelength-fields",
                  [0, 2]).get_json()["points"] == 0  # one right pick, one wrong: nothing
    assert answer(client, student, lesson, "wavelength-fields", [1, 0]).get_json()["points"] == 2
    assert answer(client, student, lesson, "d-spacing", "3,5204").get_json()["correct"]
    wrong = answer(client, quizzed["other"], lesson, "d-spacing", 3.5305).get_json()
    assert wrong["correct"] is False and "sin" in wrong["feedback"]
    assert answer(client, student, lesson, "entry-class", "  nxENTRY ").get_json()["correct"]


@pytest.mark.parametrize(("question", "value", "field_message"), [
    ("embargo", 7, "no option 7"),
    ("embargo", "first", "option's index"),
    ("wavelength-fields", 1, "list of option indices"),
    ("d-spacing", "three", "number"),
    ("d-spacing", float("inf"), "finite"),
    ("entry-class", ["NXentry"], "string"),
    ("entry-class", "x" * 501, "longer than 500"),
])
def test_a_malformed_answer_is_a_400_naming_answer_and_costs_no_attempt(
        client, quizzed, question, value, field_message):
    if value == float("inf"):
        response = client.post(f"/api/quizzes/{quizzed['lesson']}/{question}/answers",
                               data='{"answer": 1e999}', content_type="application/json",
                               headers=quizzed["student"])
    else:
        response = answer(client, quizzed["student"], quizzed["lesson"], question, value)
    assert response.status_code == 400, response.get_json()
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert field_message in problem["detail"] and "answer" in problem["errors"]
    state = client.get(f"/api/quizzes/{quizzed['lesson']}", headers=quizzed["student"])
    assert all(item["attempts_used"] == 0 for item in state.get_json()["items"])


def test_answers_need_a_signed_in_learner_and_a_known_question(client, quizzed):
    assert answer(client, {}, quizzed["lesson"], "embargo", 1).status_code == 401
    assert answer(client, quizzed["student"], quizzed["lesson"], "nope", 1).status_code == 404
    assert answer(client, quizzed["student"], quizzed["more"], "embargo", 1).status_code == 404
    assert answer(client, quizzed["student"], 99999, "embargo", 1).status_code == 404
    missing = client.post(f"/api/quizzes/{quizzed['lesson']}/embargo/answers", json={},
                          headers=quizzed["student"])
    assert missing.status_code == 422


def test_the_lesson_quiz_lists_questions_without_answer_keys(client, quizzed):
    body = client.get(f"/api/quizzes/{quizzed['lesson']}").get_json()
    assert [item["id"] for item in body["items"]] == list(QUIZ_BLOCKS)
    text = str(body)
    for secret in ("SECRET", "correct", "3.5254", "tolerance", "NXentry", "feedback"):
        assert secret not in text, secret
    embargo = body["items"][0]
    assert [o["text"] for o in embargo["options"]] == ["Never", "Three years", "Forever"]
    assert embargo["attempts"] == 3 and body["pass_mark"] == 0.6
    answer(client, quizzed["student"], quizzed["lesson"], "embargo", 1)
    mine = client.get(f"/api/quizzes/{quizzed['lesson']}", headers=quizzed["student"]).get_json()
    assert mine["items"][0]["finished"] is True and mine["items"][0]["best_points"] == 1
    assert mine["items"][0]["explanation"].startswith("SECRET-EXPLANATION")


def test_a_penalty_takes_points_for_each_earlier_imperfect_attempt(app, client, tmp_path):
    make_org(app, "psi")
    make_user(app, "student")
    blocks = {"pen": "id: pen\ntype: choice\npoints: 3\npenalty: 0.25\nquestion: Q?\n"
                     "options:\n  - text: a\n  - text: b\n    correct: true\n"}
    import_quiz_course(app, tmp_path, "penalised", blocks=blocks)
    headers = token_for(client, "student")
    lesson = lessons_of(client, "penalised")["01-read"]["id"]
    answer(client, headers, lesson, "pen", 0)
    answer(client, headers, lesson, "pen", 0)
    body = answer(client, headers, lesson, "pen", 1).get_json()
    assert body["correct"] is True and body["points"] == pytest.approx(1.5)


def test_quiz_points_complete_the_lesson_at_the_pass_mark_and_then_the_course(client, app,
                                                                               quizzed):
    student, lesson = quizzed["student"], quizzed["lesson"]
    enrol(client, student, "quizzed")
    marked = client.post(f"/api/lessons/{lesson}/complete", headers=student)
    assert marked.status_code == 409  # answered, not marked read
    # 5 points in all, pass mark 0.6: 1 + 1 = 2 is not enough, 2 + 2 = 4 is.
    assert not answer(client, student, lesson, "embargo", 1).get_json()["lesson_completed"]
    assert not answer(client, student, lesson, "d-spacing", 3.525).get_json()["lesson_completed"]
    assert answer(client, student, lesson, "wavelength-fields", [0, 1]).get_json()[
        "lesson_completed"]
    progress = client.get("/api/me/progress", headers=student).get_json()["items"][0]
    [quiz] = progress["quizzes"]
    assert quiz == {"lesson_id": lesson, "title": "Quizzed", "questions": 4, "answered": 3,
                    "points": 5.0, "best_points": 4.0, "passed": True}
    done = {item["id"]: item["how"] for item in progress["lessons"]}
    assert done[lesson] == "passed" and progress["completed_at"] is None
    client.post(f"/api/lessons/{quizzed['more']}/complete", headers=student)
    graded_submission(app, "student", quizzed["exercise"]["exercise_id"], 2.0)
    progress = client.get("/api/me/progress", headers=student).get_json()["items"][0]
    assert progress["completed_at"] is not None and progress["credential"] is not None


def test_an_exercise_with_questions_needs_both_its_parts(app, client, tmp_path):
    make_org(app, "psi")
    make_user(app, "student")
    import_quiz_course(app, tmp_path, "mixed", exercise_blocks={
        "extra": "id: extra\ntype: text\nquestion: Say yes\nanswers: ['yes']\n"})
    headers = token_for(client, "student")
    enrol(client, headers, "mixed")
    exercise = lessons_of(client, "mixed")["02-exercise"]
    graded_submission(app, "student", exercise["exercise_id"], 2.0)

    def how():
        items = client.get("/api/me/progress", headers=headers).get_json()["items"][0]["lessons"]
        return {item["id"]: item["how"] for item in items}[exercise["id"]]

    assert how() is None
    assert answer(client, headers, exercise["id"], "extra", "yes").get_json()["lesson_completed"]
    assert how() == "passed"


def test_analytics_show_each_questions_first_answers(client, quizzed):
    lesson = quizzed["lesson"]
    answer(client, quizzed["student"], lesson, "embargo", 0)
    answer(client, quizzed["student"], lesson, "embargo", 1)
    answer(client, quizzed["other"], lesson, "embargo", 1)
    answer(client, quizzed["student"], lesson, "wavelength-fields", [0, 2])
    answer(client, quizzed["student"], lesson, "d-spacing", 3.6)
    answer(client, quizzed["other"], lesson, "d-spacing", 3.6)
    body = client.get("/api/courses/quizzed/analytics", headers=quizzed["author"]).get_json()
    stats = {item["question_id"]: item for item in body["questions"]}
    embargo = stats["embargo"]
    assert (embargo["learners"], embargo["attempts"]) == (2, 3)
    assert (embargo["correct_first"], embargo["correct_eventually"]) == (1, 2)
    assert embargo["first_attempt_rate"] == 0.5 and embargo["mean_attempts"] == 1.5
    assert [(o["label"], o["count"], o["correct"]) for o in embargo["options"]] == [
        ("Never", 1, False), ("Three years", 1, True), ("Forever", 0, False)]
    multi = stats["wavelength-fields"]
    assert [o["count"] for o in multi["options"]] == [1, 0, 1]
    assert multi["answers"] == [{"answer": [0, 2], "label": "/entry1/data1/lambda; "
                                 "/entry1/sample/sample_temperature", "correct": False,
                                 "count": 1}]
    assert stats["d-spacing"]["answers"] == [{"answer": 3.6, "label": "3.6", "correct": False,
                                              "count": 2}]
    assert stats["entry-class"]["learners"] == 0 and stats["entry-class"]["mean_attempts"] is None
    assert client.get("/api/courses/quizzed/analytics",
                      headers=quizzed["student"]).status_code == 403

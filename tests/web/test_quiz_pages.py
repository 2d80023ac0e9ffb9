"""Quiz questions on the lesson page, without JavaScript; read-only in embeds and slides; search."""

from __future__ import annotations

import re

import pytest

from tests.api.test_quizzes import import_quiz_course
from tests.builders import make_org, make_user, token_for
from tests.web.conftest import csrf_token, lesson_ids, sign_in

SECRETS = ("SECRET-OPTION-FEEDBACK", "SECRET-EXPLANATION", "3.5254", "0.005", "NXentry",
           "correct: true", "type: choice", "```quiz")


@pytest.fixture
def lesson(app, tmp_path):
    """The id of a published reading lesson with one question of each type."""
    make_org(app, "psi")
    make_user(app, "student")
    import_quiz_course(app, tmp_path, quiz_attempts=2)
    return lesson_ids(app, "quizzed")[0]


def _section(page: str, key: str) -> str:
    match = re.search(rf'<section class="pl-quiz" id="quiz-{key}".*?</section>', page, re.S)
    assert match, f"no question {key} on the page"
    return match.group(0)


def _post(client, lesson, key, **form):
    token = csrf_token(client.get(f"/lessons/{lesson}").get_data(as_text=True))
    return client.post(f"/lessons/{lesson}/quizzes/{key}", data={"csrf_token": token, **form})


def test_anonymous_readers_see_the_questions_but_no_answers_and_a_sign_in_link(client, lesson):
    page = client.get(f"/lessons/{lesson}").get_data(as_text=True)
    assert all(secret not in page for secret in SECRETS), [s for s in SECRETS if s in page]
    embargo = _section(page, "embargo")
    assert "<strong>embargo</strong>" in embargo and "Three years" in embargo
    assert "Sign in</a> to answer" in embargo and "<form" not in embargo
    assert "Question text before." in page and "After." in page  # the prose around stays
    assert page.count('class="pl-quiz"') == 4
    assert "Mark as read" not in page and "the lesson is done at 60" in page


def test_a_student_answers_with_the_form_and_sees_feedback_at_the_question(client, lesson):
    sign_in(client, "student")
    page = client.get(f"/lessons/{lesson}").get_data(as_text=True)
    form = _section(page, "embargo")
    assert 'type="radio" name="answer" value="1"' in form and "2 attempts left" in form
    assert all(secret not in page for secret in SECRETS)
    response = _post(client, lesson, "embargo", answer="0")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/lessons/{lesson}#quiz-embargo")
    wrong = _section(client.get(f"/lessons/{lesson}").get_data(as_text=True), "embargo")
    assert "Not quite" in wrong and "Most policies allow an embargo." in wrong
    assert "SECRET-EXPLANATION" not in wrong and "1 attempt left" in wrong
    assert 'value="0" checked' in wrong  # the last answer stays selected
    _post(client, lesson, "embargo", answer="1")
    right = _section(client.get(f"/lessons/{lesson}").get_data(as_text=True), "embargo")
    assert "Correct" in right and "SECRET-OPTION-FEEDBACK" in right
    assert "SECRET-EXPLANATION" in right and "Check answer" not in right  # finished
    assert _post(client, lesson, "embargo", answer="1").status_code == 409


def test_multi_numeric_and_text_forms_and_the_summary(client, lesson):
    sign_in(client, "student")
    assert _post(client, lesson, "wavelength-fields", answer=["0", "1"]).status_code == 303
    assert _post(client, lesson, "d-spacing", answer="3.525").status_code == 303
    page = client.get(f"/lessons/{lesson}").get_data(as_text=True)
    number = _section(page, "d-spacing")
    assert 'inputmode="decimal"' in number and "value=\"3.525\"" in number and "Å" in number
    assert "Correct" in number and "2 of 2 points" in _section(page, "wavelength-fields")
    summary = re.sub(r"\s+", " ", page.split("pl-quiz-summary")[1])
    assert "2 of 4 questions answered; 3 of 5 points. <strong>Lesson done.</strong>" in summary


def test_a_bad_answer_is_explained_at_the_question(client, lesson):
    sign_in(client, "student")
    response = _post(client, lesson, "d-spacing", answer="three and a half")
    assert response.status_code == 400
    section = _section(response.get_data(as_text=True), "d-spacing")
    assert 'role="alert"' in section and "Answer with a number" in section
    assert _post(client, lesson, "d-spacing", answer="").status_code == 400
    assert _post(client, lesson, "nope", answer="1").status_code == 404
    forged = client.post(f"/lessons/{lesson}/quizzes/embargo",
                         data={"csrf_token": "forged", "answer": "1"})
    assert forged.status_code == 400
    anonymous = client.application.test_client()
    redirect = anonymous.post(f"/lessons/{lesson}/quizzes/embargo", data={"answer": "1"})
    assert redirect.status_code in (303, 400)  # to sign-in, or refused for lack of a token


def test_embeds_and_slides_show_the_questions_read_only_and_no_answers(client, lesson):
    sign_in(client, "student")
    _post(client, lesson, "embargo", answer="1")  # even after answering: no feedback there
    for url in (f"/embed/lessons/{lesson}", f"/lessons/{lesson}/slides"):
        page = client.get(url).get_data(as_text=True)
        assert all(secret not in page for secret in SECRETS), url
        embargo = _section(page, "embargo")
        assert "Three years" in embargo and "<form" not in embargo
        assert f"/lessons/{lesson}#quiz-embargo" in embargo and "css/quiz.css" in page


def test_search_finds_the_questions_but_never_their_answers(client, lesson):
    headers = token_for(client, "student")

    def total(q):
        return client.get("/api/search", query_string={"q": q}, headers=headers).get_json()[
            "total"]

    assert total('"wavelength"') == 1 and total("embargo") == 1
    for secret in ("SECRET-OPTION-FEEDBACK", "SECRET-EXPLANATION", "NXentry", "3.5254"):
        assert total(f'"{secret}"') == 0, secret

"""Lesson metadata and notebook downloads: students never get solutions or hidden tests."""

from __future__ import annotations

import json


def _lessons(client, headers, slug="published"):
    body = client.get(f"/api/courses/{slug}", headers=headers).get_json()
    return [lesson for module in body["modules"] for lesson in module["lessons"]]


def test_lesson_metadata_with_neighbours_and_exercise(client, catalogue):
    first, exercise, last = _lessons(client, {})
    body = client.get(f"/api/lessons/{exercise['id']}").get_json()
    assert body["kind"] == "exercise" and body["exercise_id"] == exercise["exercise_id"]
    assert (body["previous_id"], body["next_id"]) == (first["id"], last["id"])
    assert body["points"] == 2 and body["course"] == "published"


def test_draft_lessons_are_hidden_from_outsiders(client, catalogue):
    lesson = _lessons(client, catalogue["author"], "drafty")[0]
    assert client.get(f"/api/lessons/{lesson['id']}").status_code == 404
    assert client.get(f"/api/lessons/{lesson['id']}/notebook",
                      headers=catalogue["ess-author"]).status_code == 404
    assert client.get(f"/api/lessons/{lesson['id']}",
                      headers=catalogue["author"]).status_code == 200


def test_student_download_has_no_solution_or_hidden_test(client, catalogue):
    exercise = _lessons(client, {})[1]
    response = client.get(f"/api/lessons/{exercise['id']}/notebook",
                          headers=catalogue["student"])
    assert response.status_code == 200
    assert response.content_type == "application/x-ipynb+json"
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    notebook = json.loads(text)
    assert notebook["nbformat"] == 4
    assert "answer = 42" not in text and "answer == 42" not in text
    assert "raise NotImplementedError()" in text and "assert answer > 0" in text


def test_source_download_is_for_the_courses_staff_only(client, catalogue):
    exercise = _lessons(client, {})[1]
    url = f"/api/lessons/{exercise['id']}/notebook?version=source"
    for who, status in (("anonymous", 403), ("student", 403), ("ess-author", 403),
                        ("author", 200), ("admin", 200)):
        response = client.get(url, headers=catalogue[who])
        assert response.status_code == status, who
    text = client.get(url, headers=catalogue["author"]).get_data(as_text=True)
    assert "answer = 42" in text and "answer == 42" in text
    assert client.get(f"/api/lessons/{exercise['id']}/notebook?version=other").status_code == 422

"""Exercise drafts: autosaved per learner, the last kept, nobody else's reachable (issue 15)."""

from __future__ import annotations

import json

import nbformat
import pytest

from panlearn.notebooks.student import make_student_version
from tests.builders import make_user, token_for
from tests.live import PEAK_CELL, with_cells
from tests.web.conftest import NEXUS, csrf_token, ensure_psi, import_folder, sign_in


@pytest.fixture
def exercise(app, client):
    """The NeXus exercise's draft URL; alice and bob, with API tokens."""
    ensure_psi(app)
    import_folder(app, NEXUS)
    for name in ("alice", "bob"):
        make_user(app, name)
    lessons = [lesson for module in client.get("/api/courses/reading-nexus").get_json()["modules"]
               for lesson in module["lessons"]]
    exercise_id = next(item["exercise_id"] for item in lessons
                       if item["slug"].startswith("03-"))
    return {"url": f"/api/exercises/{exercise_id}/draft",
            "alice": token_for(client, "alice"), "bob": token_for(client, "bob")}


def _cells(body):
    return {cell["id"]: cell["source"] for cell in body["notebook"]["cells"]}


def test_a_draft_is_saved_restored_replaced_and_reset(client, exercise):
    url, alice = exercise["url"], exercise["alice"]
    empty = client.get(url, headers=alice)
    assert empty.status_code == 200
    assert empty.get_json() == {"notebook": None, "saved_at": None, "size": None}

    first = client.put(url, json={"notebook": with_cells(**{PEAK_CELL: "peak_two_theta = 1"})},
                       headers=alice)
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["size"] > 0
    second = client.put(url, json={"notebook": with_cells(**{PEAK_CELL: "peak_two_theta = 2"})},
                        headers=alice)
    assert second.get_json()["saved_at"] >= first.get_json()["saved_at"]

    body = client.get(url, headers=alice).get_json()
    assert _cells(body)[PEAK_CELL] == "peak_two_theta = 2"  # the last one kept
    assert body["saved_at"] == second.get_json()["saved_at"]

    assert client.delete(url, headers=alice).status_code == 204
    assert client.get(url, headers=alice).get_json()["notebook"] is None


def test_another_learners_draft_is_never_reachable(client, exercise):
    url = exercise["url"]
    client.put(url, json={"notebook": with_cells(**{PEAK_CELL: "alice_secret = 1"})},
               headers=exercise["alice"])
    # bob reads and writes his own only, and deleting his does not touch alice's.
    assert client.get(url, headers=exercise["bob"]).get_json()["notebook"] is None
    client.put(url, json={"notebook": with_cells(**{PEAK_CELL: "bob_was_here = 1"})},
               headers=exercise["bob"])
    client.delete(url, headers=exercise["bob"])
    assert _cells(client.get(url, headers=exercise["alice"]).get_json())[PEAK_CELL] == \
        "alice_secret = 1"
    assert "alice_secret" not in json.dumps(client.get(url, headers=exercise["bob"]).get_json())


def test_drafts_need_a_signed_in_learner_and_a_notebook_of_the_exercise(client, exercise):
    url, alice = exercise["url"], exercise["alice"]
    assert client.get(url).status_code == 401
    assert client.put(url, json={"notebook": with_cells()}).status_code == 401
    other = make_student_version(nbformat.read(NEXUS / "06-exercise-missing-external-link.ipynb",
                                               as_version=4))
    refused = client.put(url, json={"notebook": json.loads(nbformat.writes(other))},
                         headers=alice)
    assert refused.status_code == 400
    assert refused.content_type == "application/problem+json"
    assert "does not belong to this exercise" in refused.get_json()["detail"]
    assert client.put(url, json={"notebook": {"cells": "no"}}, headers=alice).status_code == 400
    assert client.put(url, json={}, headers=alice).status_code == 422
    assert client.get("/api/exercises/99999/draft", headers=alice).status_code == 404


def test_a_browser_session_saves_only_with_the_pages_csrf_token(client, exercise):
    sign_in(client, "alice")
    body = {"notebook": with_cells(**{PEAK_CELL: "peak_two_theta = 3"})}
    assert client.put(exercise["url"], json=body).status_code == 403
    token = csrf_token(client.get("/login").get_data(as_text=True))
    saved = client.put(exercise["url"], json=body, headers={"X-CSRFToken": token})
    assert saved.status_code == 200


def test_draft_saves_are_rate_limited(app, client, exercise):
    app.config["PANLEARN"]["LIVE_DRAFT_RATE"] = "2 per minute"
    body = {"notebook": with_cells()}
    statuses = [client.put(exercise["url"], json=body, headers=exercise["bob"]).status_code
                for _ in range(3)]
    assert statuses == [200, 200, 429]
    # Reading is not limited.
    assert client.get(exercise["url"], headers=exercise["bob"]).status_code == 200

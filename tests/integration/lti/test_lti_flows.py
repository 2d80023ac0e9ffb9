"""LTI 1.3 against a simulated platform: launch, deep linking, grade passback, refusals."""

from __future__ import annotations

import os
import stat
from datetime import timedelta
from pathlib import Path

import pytest
from nbformat.v4 import new_notebook
from sqlalchemy import func, select

from panlearn import create_app
from panlearn.extensions import db
from panlearn.grading.core.pipeline import GradingOutcome
from panlearn.grading.jobs import _record_outcome, claim
from panlearn.lti.keys import KEY_FILE
from panlearn.models import (
    Exercise,
    GradingRun,
    Identity,
    IdentityKind,
    LtiLineItem,
    Submission,
    SubmissionState,
)
from panlearn.wiring import services_of
from tests.integration.lti.platform import form_fields, login_url

pytestmark = pytest.mark.slow


def launch(browser, tool, platform, hint, target):
    """OIDC login → the platform's auth endpoint → the auto-posted id_token; the answer."""
    started = browser.get(login_url(tool["base"], platform, hint, target), allow_redirects=False)
    assert started.status_code == 302, started.text
    assert started.headers["Location"].startswith(platform.issuer + "/auth?")
    auth = browser.get(started.headers["Location"], allow_redirects=False)
    assert auth.status_code == 200, auth.text
    action, fields = form_fields(auth.text)
    assert action == tool["base"] + "/lti/launch"
    return browser.post(action, data=fields, allow_redirects=False), fields


def lesson_url(tool, lesson_id):
    return f"{tool['base']}/lessons/{lesson_id}"


def count(app, model):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


# -- launches ------------------------------------------------------------------------------


def test_resource_link_launch_signs_the_learner_in_and_opens_the_lesson(
        app, tool, platform, browser):
    target = lesson_url(tool, tool["reading"])
    hint = platform.plan(platform.resource_claims(target))
    response, _ = launch(browser, tool, platform, hint, target)
    assert response.status_code == 303, response.text
    assert response.headers["Location"] == f"/lessons/{tool['reading']}"
    page = browser.get(tool["base"] + response.headers["Location"])
    assert page.status_code == 200
    with app.app_context():
        link = db.session.scalar(select(Identity))
        assert (link.issuer, link.sub, link.kind) == (platform.issuer, "student-42",
                                                      IdentityKind.LTI)
        assert link.user.role.value == "student"
        username = link.user.username
    assert username in page.text  # signed in as the LMS user's account
    # The same LMS user launching again keeps the same account.
    hint = platform.plan(platform.resource_claims(target, custom={"panlearn_lesson": str(
        tool["exercise"])}))
    response, _ = launch(browser, tool, platform, hint, target)
    assert response.headers["Location"] == f"/lessons/{tool['exercise']}"  # custom wins
    assert count(app, Identity) == 1


def test_exercise_launch_remembers_the_line_item_and_grading_posts_the_best_score(
        app, tool, platform, browser):
    target = lesson_url(tool, tool["exercise"])
    lineitem = platform.lineitem_url("item-1")
    hint = platform.plan(platform.resource_claims(target, lineitem=lineitem))
    response, _ = launch(browser, tool, platform, hint, target)
    assert response.status_code == 303
    with app.app_context():
        link = db.session.scalar(select(LtiLineItem))
        assert link.lineitem_url == lineitem
        user_id, exercise_id = link.user_id, link.exercise_id

    assert grade(app, user_id, exercise_id, 1.5) is True
    assert len(platform.scores) == 1
    score = platform.scores[0]
    assert score["lineitem"] == "/lineitems/item-1"
    assert (score["scoreGiven"], score["scoreMaximum"]) == (1.5, 2.0)
    assert score["userId"] == "student-42"
    assert (score["activityProgress"], score["gradingProgress"]) == ("Completed", "FullyGraded")
    assert score["timestamp"].endswith("+00:00") and "." in score["timestamp"]
    # The access token came from a client-credentials grant with a signed assertion.
    assert platform.token_requests[0]["grant_type"] == "client_credentials"

    grade(app, user_id, exercise_id, 0.5)  # a worse retry does not lower the gradebook
    grade(app, user_id, exercise_id, 2.0)
    assert [s["scoreGiven"] for s in platform.scores] == [1.5, 1.5, 2.0]
    with app.app_context():
        link = db.session.scalar(select(LtiLineItem))
        assert (link.posted_score, link.last_error) == (2.0, None)


def test_a_failing_gradebook_never_fails_the_grading(app, tool, platform, browser):
    target = lesson_url(tool, tool["exercise"])
    hint = platform.plan(platform.resource_claims(target,
                                                  lineitem=platform.lineitem_url("item-2")))
    launch(browser, tool, platform, hint, target)
    platform.score_status = 503
    with app.app_context():
        link = db.session.scalar(select(LtiLineItem))
        user_id, exercise_id = link.user_id, link.exercise_id
    assert grade(app, user_id, exercise_id, 1.0) is True
    with app.app_context():
        assert db.session.scalar(select(Submission)).state == SubmissionState.GRADED
        assert "503" in db.session.scalar(select(LtiLineItem)).last_error


def test_submissions_of_exercises_never_launched_from_an_lms_post_nothing(app, tool, platform):
    from tests.builders import make_user

    make_user(app, "local-student")
    with app.app_context():
        from panlearn.models import User

        user_id = db.session.scalar(select(User.id).where(User.username == "local-student"))
        exercise_id = db.session.scalar(select(Exercise.id))
    assert grade(app, user_id, exercise_id, 2.0) is True
    assert platform.scores == [] and platform.token_requests == []


def grade(app, user_id, exercise_id, score):
    """Record a grading outcome the way a worker does (its "graded" hooks run after it)."""
    with app.app_context():
        exercise = db.session.get(Exercise, exercise_id)
        submission = Submission(exercise=exercise, user_id=user_id,
                                notebook_hash=exercise.lesson.notebook_hash)
        db.session.add(submission)
        db.session.commit()
        token = claim(db.session, submission.id, timedelta(minutes=5), attempts=3)
        run = GradingRun(submission_id=submission.id, state=SubmissionState.RUNNING,
                         grader_version="test", check_suite_hash="x" * 64, worker="test")
        outcome = GradingOutcome(checks=[], score=score, max_score=2.0,
                                 executed_notebook=new_notebook(), timings={"total": 0.1})
        return _record_outcome(db.session, db.session.get(Submission, submission.id), token,
                               run, outcome, after_commit=services_of(app).graded_hooks)


# -- deep linking --------------------------------------------------------------------------


def test_deep_linking_returns_signed_resource_links_the_lms_then_launches(
        app, tool, platform, browser):
    hint = platform.plan(platform.deep_link_claims(), sub="teacher-1")
    response, _ = launch(browser, tool, platform, hint, platform.tool_launch_url)
    assert response.status_code == 200, response.text
    # The picker may be framed by the LMS (and only by it).
    assert f"frame-ancestors {platform.issuer}" in response.headers["Content-Security-Policy"]
    action, fields = form_fields(response.text)
    assert action == "/lti/deep-link"
    chosen = browser.post(tool["base"] + action, data={
        **fields, "lesson": [str(tool["reading"]), str(tool["exercise"])]})
    assert chosen.status_code == 200, chosen.text
    policy = chosen.headers["Content-Security-Policy"]
    assert f"form-action 'self' {platform.issuer}" in policy and "'sha256-" in policy
    return_url, returned = form_fields(chosen.text)
    assert return_url == platform.issuer + "/deep-link-return"
    assert browser.post(return_url, data=returned).text == "thanks"

    message = platform.deep_link_responses[0]  # verified with the tool's JWKS
    assert message["https://purl.imsglobal.org/spec/lti/claim/message_type"] == \
        "LtiDeepLinkingResponse"
    assert message["https://purl.imsglobal.org/spec/lti-dl/claim/data"] == "platform-opaque-data"
    assert message["iss"] == platform.client_id
    items = message["https://purl.imsglobal.org/spec/lti-dl/claim/content_items"]
    assert [item["url"] for item in items] == [lesson_url(tool, tool["reading"]),
                                               lesson_url(tool, tool["exercise"])]
    assert all(item["type"] == "ltiResourceLink" for item in items)
    assert "lineItem" not in items[0]
    assert items[1]["lineItem"]["scoreMaximum"] == 2.0

    # The LMS launches the exercise it was given, with the line item it made for it.
    student = type(browser)()
    hint = platform.plan(platform.resource_claims(
        items[1]["url"], custom=items[1]["custom"], lineitem=platform.lineitem_url("dl-1")))
    response, _ = launch(student, tool, platform, hint, items[1]["url"])
    assert response.headers["Location"] == f"/lessons/{tool['exercise']}"
    assert count(app, LtiLineItem) == 1


def test_deep_linking_refuses_a_forged_selection_token(tool, platform, browser):
    response = browser.post(tool["base"] + "/lti/deep-link",
                            data={"token": "forged", "lesson": str(tool["reading"])})
    assert response.status_code == 401


# -- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize(("tamper", "reason"), [
    ({"bad_signature": True}, "Signature verification failed"),
    ({"expired": True}, "expired"),
    ({"aud": "another-tool"}, "Registration not found"),
    ({"aud": ["panlearn-client", "another-tool"]}, "azp"),
    ({"deployment_id": "deployment-unknown"}, "deployment"),
    ({"nonce": "a-nonce-we-never-issued"}, "Nonce"),
])
def test_broken_id_tokens_are_refused(app, tool, platform, browser, tamper, reason):
    target = lesson_url(tool, tool["reading"])
    hint = platform.plan(platform.resource_claims(target), sub="mallory", **tamper)
    response, _ = launch(browser, tool, platform, hint, target)
    assert response.status_code == 401, response.text
    assert reason in response.text
    assert count(app, Identity) == 0
    assert "session" not in browser.cookies.get_dict(), browser.cookies.get_dict()


def test_a_replayed_id_token_is_refused(app, tool, platform, browser):
    target = lesson_url(tool, tool["reading"])
    hint = platform.plan(platform.resource_claims(target))
    first, fields = launch(browser, tool, platform, hint, target)
    assert first.status_code == 303
    replay = browser.post(tool["base"] + "/lti/launch", data=fields, allow_redirects=False)
    assert replay.status_code == 401 and "Nonce" in replay.text


def test_a_launch_without_the_login_state_cookie_is_refused(tool, platform, browser):
    target = lesson_url(tool, tool["reading"])
    hint = platform.plan(platform.resource_claims(target))
    started = browser.get(login_url(tool["base"], platform, hint, target), allow_redirects=False)
    auth = browser.get(started.headers["Location"])
    action, fields = form_fields(auth.text)
    stranger = type(browser)()  # another browser: the login CSRF an attacker would try
    response = stranger.post(action, data=fields, allow_redirects=False)
    assert response.status_code == 401 and "State" in response.text


def test_login_from_an_unregistered_platform_is_refused(tool, browser):
    response = browser.get(tool["base"] + "/lti/login", params={
        "iss": "https://unknown.example.org", "login_hint": "x", "target_link_uri": "y"},
        allow_redirects=False)
    assert response.status_code == 401


# -- keys and configuration ----------------------------------------------------------------


def test_jwks_publishes_the_tool_key_made_once_in_the_instance_dir(app, tool, browser):
    keys = browser.get(tool["base"] + "/.well-known/jwks.json").json()["keys"]
    assert len(keys) == 1
    key = keys[0]
    assert (key["kty"], key["alg"], key["use"]) == ("RSA", "RS256", "sig")
    assert "d" not in key and key["kid"]
    path = Path(app.config["PANLEARN"]["INSTANCE_DIR"]) / KEY_FILE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again = create_app({"INSTANCE_DIR": app.config["PANLEARN"]["INSTANCE_DIR"],
                        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
                        "GRADING_WORKERS": 0, "TESTING": True})
    assert again.test_client().get("/.well-known/jwks.json").get_json()["keys"][0]["kid"] == \
        key["kid"]


def test_cli_registers_lists_and_removes_platforms(app, runner):
    result = runner.invoke(args=[
        "lti", "register", "--issuer", "https://moodle.example.org", "--client-id", "abc",
        "--deployment-id", "1", "--deployment-id", "2",
        "--auth-login-url", "https://moodle.example.org/mod/lti/auth.php",
        "--token-url", "https://moodle.example.org/mod/lti/token.php",
        "--jwks-url", "https://moodle.example.org/mod/lti/certs.php"])
    assert result.exit_code == 0, result.output
    assert "deployments: 1, 2" in result.output
    listed = runner.invoke(args=["lti", "list"])
    assert "https://moodle.example.org  client abc  deployments 1, 2" in listed.output
    bad = runner.invoke(args=["lti", "register", "--issuer", "moodle", "--client-id", "x",
                              "--auth-login-url", "a", "--token-url", "b", "--jwks-url", "c"])
    assert bad.exit_code == 1 and "auth_login_url" in bad.output
    shown = runner.invoke(args=["lti", "tool", "--base-url", "https://learn.example.org"])
    assert "https://learn.example.org/lti/login" in shown.output
    assert "BEGIN PUBLIC KEY" in shown.output
    assert runner.invoke(args=["lti", "remove", "https://moodle.example.org", "abc"]).exit_code \
        == 0
    assert runner.invoke(args=["lti", "remove", "https://moodle.example.org", "abc"]).exit_code \
        == 1

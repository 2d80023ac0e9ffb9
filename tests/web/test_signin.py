"""Signing in and out of the browser session, with CSRF-protected forms."""

from __future__ import annotations

from panlearn.api.identity import SESSION_USER_KEY
from tests.builders import PASSWORD, make_user, token_for
from tests.web.conftest import csrf_token, sign_in


def _login_token(client, url="/login"):
    return csrf_token(client.get(url).get_data(as_text=True))


def test_sign_in_sets_the_session_and_returns_to_next(app, client):
    make_user(app, "student")
    token = _login_token(client, "/login?next=/courses/x")
    response = client.post("/login", data={"username": "student", "password": PASSWORD,
                                           "csrf_token": token, "next": "/courses/x"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/courses/x"
    with client.session_transaction() as session:
        assert SESSION_USER_KEY in session
    assert "Signed in as <strong>student</strong>" in client.get("/").get_data(as_text=True)


def test_wrong_password_shows_an_alert_and_no_session(app, client):
    make_user(app, "student")
    response = client.post("/login", data={"username": "student", "password": "nope nope",
                                           "csrf_token": _login_token(client)})
    assert response.status_code == 401
    assert 'role="alert"' in response.get_data(as_text=True)
    with client.session_transaction() as session:
        assert SESSION_USER_KEY not in session


def test_login_without_csrf_token_is_refused(app, client):
    make_user(app, "student")
    response = client.post("/login", data={"username": "student", "password": PASSWORD})
    assert response.status_code == 400
    with client.session_transaction() as session:
        assert SESSION_USER_KEY not in session


def test_next_never_leaves_the_site(app, client):
    make_user(app, "student")
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:x"):
        response = client.post("/login", data={"username": "student", "password": PASSWORD,
                                               "csrf_token": _login_token(client),
                                               "next": target})
        assert response.headers["Location"] == "/", target


def test_sign_out_needs_the_form_token(app, client):
    make_user(app, "student")
    sign_in(client, "student")
    assert client.post("/logout").status_code == 400
    with client.session_transaction() as session:
        assert SESSION_USER_KEY in session
    token = csrf_token(client.get("/logout").get_data(as_text=True))
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 303
    with client.session_transaction() as session:
        assert SESSION_USER_KEY not in session


def test_api_is_exempt_from_form_csrf_but_cookie_sessions_still_need_the_header(app, client):
    make_user(app, "student")
    # Bearer clients: no CSRF token involved.
    assert token_for(client, "student")["Authorization"].startswith("Bearer ")
    sign_in(client, "student")
    page = client.get("/").get_data(as_text=True)
    meta = page.split('<meta name="csrf-token" content="')[1].split('"')[0]
    # An unsafe API call with the session cookie and no header is refused by the API itself.
    refused = client.post("/api/courses/x/publish")
    assert refused.status_code == 403
    assert refused.mimetype == "application/problem+json"
    allowed = client.post("/api/courses/x/publish", headers={"X-CSRFToken": meta})
    assert allowed.status_code == 404  # past the CSRF check: there is no course `x`


def test_the_login_form_is_throttled_like_the_api(app, client):
    make_user(app, "student")
    token = _login_token(client)
    statuses = [client.post("/login", data={"username": "student", "password": "wrong guess",
                                            "csrf_token": token}).status_code
                for _ in range(6)]
    assert statuses[:5] == [401] * 5
    locked = client.post("/login", headers={"Accept": "text/html"},
                         data={"username": "student", "password": PASSWORD,
                               "csrf_token": token})
    assert locked.status_code == 429 and locked.mimetype == "text/html"
    assert "Too many" in locked.get_data(as_text=True)

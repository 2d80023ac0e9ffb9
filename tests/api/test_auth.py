"""Bearer tokens: issue, use, expire, revoke."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from panlearn.extensions import db
from panlearn.models import ApiToken, utcnow
from tests.builders import PASSWORD, make_org, make_user


def test_token_is_issued_for_good_credentials_and_stored_hashed(app, client):
    make_user(app, "alice")
    response = client.post("/api/auth/token", json={"username": "alice", "password": PASSWORD})
    assert response.status_code == 201
    body = response.get_json()
    assert body["token"].startswith("pl_") and body["token_type"] == "Bearer"
    with app.app_context():
        stored = db.session.scalar(select(ApiToken))
        assert stored.token_hash != body["token"] and len(stored.token_hash) == 64


def test_wrong_password_and_unknown_user_get_the_same_401(app, client):
    make_user(app, "alice")
    wrong = client.post("/api/auth/token", json={"username": "alice", "password": "nope nope"})
    unknown = client.post("/api/auth/token", json={"username": "bob", "password": "nope nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_json()["detail"] == unknown.get_json()["detail"]
    assert wrong.content_type == "application/problem+json"


def test_missing_fields_are_named(client):
    response = client.post("/api/auth/token", json={"username": "x"})
    assert response.status_code == 422
    assert response.get_json()["errors"]["json"]["password"] == [
        "Missing data for required field."]


def test_expired_and_revoked_tokens_are_refused(app, client):
    make_org(app)
    make_user(app, "alice", "author", "psi")
    token = client.post("/api/auth/token",
                        json={"username": "alice", "password": PASSWORD}).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/courses", headers=headers).status_code == 200
    assert client.delete("/api/auth/token", headers=headers).status_code == 204
    assert client.get("/api/courses", headers=headers).status_code == 401
    token = client.post("/api/auth/token",
                        json={"username": "alice", "password": PASSWORD}).get_json()["token"]
    with app.app_context():
        for record in db.session.scalars(select(ApiToken)):
            record.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    response = client.get("/api/courses", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert "expired" in response.get_json()["detail"]


def test_malformed_authorization_header_is_401(client):
    for header in ("Basic abc", "Bearer", "Bearer pl_not-a-real-token"):
        response = client.get("/api/courses", headers={"Authorization": header})
        assert response.status_code == 401, header
        assert response.content_type == "application/problem+json"


def test_failed_logins_lock_the_account_but_not_others(app, client):
    app.config["PANLEARN"]["LOGIN_LOCKOUT"] = "3 per 15 minutes"
    make_user(app, "alice")
    make_user(app, "bob")
    for _ in range(3):
        wrong = client.post("/api/auth/token", json={"username": "alice", "password": "x" * 9})
        assert wrong.status_code == 401
    locked = client.post("/api/auth/token", json={"username": "alice", "password": PASSWORD})
    assert locked.status_code == 429
    assert locked.content_type == "application/problem+json"
    assert int(locked.headers["Retry-After"]) > 0
    assert client.post("/api/auth/token",
                       json={"username": "bob", "password": PASSWORD}).status_code == 201


def test_logins_per_address_are_rate_limited(app, client):
    app.config["PANLEARN"]["LOGIN_RATE"] = "4 per minute"
    make_user(app, "alice")
    statuses = [client.post("/api/auth/token", json={"username": "alice", "password": PASSWORD}
                            ).status_code for _ in range(5)]
    assert statuses == [201, 201, 201, 201, 429]

"""Probes and metrics."""

from __future__ import annotations

from sqlalchemy import text

from panlearn.extensions import db
from panlearn.models import NotebookBlob, Submission, SubmissionState


def test_healthz_and_readyz(app, client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["checks"] == {
        "database": "ok", "migrations": "ok"}
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(text("DELETE FROM alembic_version"))
        connection.execute(text("INSERT INTO alembic_version (version_num) VALUES ('old')"))
    behind = client.get("/readyz")
    assert behind.status_code == 503
    assert "flask db upgrade" in behind.get_json()["checks"]["migrations"]


def test_metrics_count_the_queue_and_outcomes(app, client, catalogue):
    exercise_id = next(
        lesson["exercise_id"]
        for module in client.get("/api/courses/published").get_json()["modules"]
        for lesson in module["lessons"] if lesson["exercise_id"])
    with app.app_context():
        db.session.add(NotebookBlob(sha256="0" * 64, content=b"{}", size=2))
        for state in ("queued", "queued", "running", "failed"):
            db.session.add(Submission(exercise_id=exercise_id, user_id=1,
                                      notebook_hash="0" * 64, state=SubmissionState(state)))
        db.session.commit()
    body = client.get("/metrics").get_data(as_text=True)
    assert 'panlearn_grading_queue{state="queued"} 2.0' in body
    assert 'panlearn_grading_queue{state="running"} 1.0' in body
    assert 'panlearn_submissions_total{outcome="failed"} 1.0' in body
    assert "panlearn_grading_latency_seconds_count 0.0" in body
